/**
 * Workspaces: tenancy, roles, invitations and token budgets. Every other module asks
 * this service for the caller's workspace context and checks a permission on it;
 * a workspace the caller is not a member of does not exist for them (404).
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import { generateToken, hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceRole } from '../../domain/workspaces.js';
import type { Mailer } from '../../platform/mail/mailer.js';
import type { Actor } from '../audit/actor.js';
import type { AuditEvent, AuditLog } from '../audit/service.js';
import { normalizeEmail } from '../users/email.js';
import { workspaceMails } from './mails.js';
import { can, type Permission } from './permissions.js';
import * as repo from './repo.js';
import type { EventOrigin } from '../security-events/origin.js';
import type { SecurityEventSink } from '../security-events/service.js';
import { UserService } from '../users/service.js';
import type { CacheStats } from '../../platform/store/cache.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import type { Store } from '../../platform/store/store.js';

/** How long an instance reuses a membership it read; changes drop it everywhere at once, so this only bounds memory. */
export const MEMBERSHIP_CACHE_TTL_MS = 5_000;
const MEMBERSHIP_CACHE_ENTRIES = 50_000;

const INVITATION_TTL_MS = 7 * 24 * 3_600_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WorkspaceContext {
  workspaceId: string;
  userId: string;
  role: WorkspaceRole;
  workspace: repo.WorkspaceRow;
  /** The request it was resolved for (`request.workspace`), for the security events it leads to. */
  origin?: EventOrigin;
}

export class WorkspaceService {
  /**
   * Memberships read recently (user, workspace → role and workspace row), so a request
   * needs no membership query. Every change of a role, a membership or a workspace drops
   * all of them on every instance before it answers (changes are rare; see forgetMemberships).
   */
  private readonly memberships: LocalCache<repo.MembershipRow> | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly mailer: Mailer,
    private readonly publicUrl: string,
    private readonly events?: SecurityEventSink,
    private readonly users = new UserService(db),
    /** Records member and invitation changes; tests of other rules may leave it out. */
    private readonly audit?: AuditLog,
    /** The store the membership cache broadcasts on; without one nothing is cached. */
    cache?: { store: Store; stats?: CacheStats | undefined },
  ) {
    this.memberships = cache ? new LocalCache(cache.store, 'membership', { ttlMs: MEMBERSHIP_CACHE_TTL_MS, maxEntries: MEMBERSHIP_CACHE_ENTRIES, stats: cache.stats, now: () => clock.now().getTime() }) : undefined;
  }

  /** Drops every cached membership on every instance: after any change of roles, members or workspaces. */
  async forgetMemberships(): Promise<void> {
    await this.memberships?.invalidateAll();
  }

  close(): Promise<void> {
    return this.memberships?.close() ?? Promise.resolve();
  }

  /** The user's personal workspace, created on first need (sign-up, first API call). */
  async personal(userId: string): Promise<repo.MembershipRow> {
    const existing = await repo.findPersonalWorkspace(this.db, userId);
    if (existing) return existing;
    const now = this.clock.now();
    await repo.insertWorkspace(this.db, { id: randomUUID(), name: 'Personal', personal_owner_id: userId, monthly_token_budget: null, created_at: now, updated_at: now }, userId);
    const created = await repo.findPersonalWorkspace(this.db, userId);
    if (!created) throw new AppError('not_found', 'No such user.');
    return created;
  }

  /** Remembers the workspace the user chose last (a preference; 404 unless they belong to it). */
  async choose(userId: string, workspaceId: string): Promise<void> {
    const context = await this.membership(userId, workspaceId);
    await repo.setLastWorkspace(this.db, userId, context.workspaceId);
  }

  /** The workspace the user chose last, if any (membership not checked: callers match it against the list). */
  async lastChosen(userId: string): Promise<string | null> {
    return repo.findLastWorkspace(this.db, userId);
  }

  /** The caller's workspace for this request: the X-Workspace-Id header, else the personal one. */
  async resolve(userId: string, workspaceId: string | undefined, permission: Permission): Promise<WorkspaceContext> {
    const context = await this.membership(userId, workspaceId);
    this.require(context, permission);
    return context;
  }

  /** The user's membership of a workspace (the personal one when `workspaceId` is undefined), or 404; no permission checked. */
  async membership(userId: string, workspaceId: string | undefined): Promise<WorkspaceContext> {
    if (workspaceId !== undefined && !UUID.test(workspaceId)) throw new AppError('validation_failed', 'X-Workspace-Id must be a workspace id (a UUID).');
    const target = workspaceId?.toLowerCase();
    const load = async () => (target === undefined ? this.personal(userId) : ((await repo.findMembership(this.db, target, userId)) ?? null));
    const membership = this.memberships ? await this.memberships.getOrLoad(`${userId}|${target ?? 'personal'}`, load) : await load();
    if (!membership) throw new AppError('not_found', 'No such workspace.');
    return { workspaceId: membership.id, userId, role: membership.role, workspace: membership };
  }

  require(context: WorkspaceContext, permission: Permission): void {
    if (!can(context.role, permission)) {
      // ASVS 16.3.2: authorisation failures are logged (recording never throws).
      void this.events?.record({ type: 'access.permission_denied', userId: context.userId, ...context.origin, details: { workspaceId: context.workspaceId, role: context.role, permission } });
      throw new AppError('forbidden', `Your role in this workspace (${context.role}) does not allow this (${permission}).`);
    }
  }

  list(userId: string): Promise<repo.MembershipRow[]> {
    return repo.listMemberships(this.db, userId);
  }

  async create(userId: string, name: string): Promise<repo.MembershipRow> {
    const now = this.clock.now();
    const id = randomUUID();
    await repo.insertWorkspace(this.db, { id, name, personal_owner_id: null, monthly_token_budget: null, created_at: now, updated_at: now }, userId);
    return (await repo.findMembership(this.db, id, userId))!;
  }

  async update(context: WorkspaceContext, changes: { name?: string; monthlyTokenBudget?: number | null }): Promise<repo.MembershipRow> {
    this.require(context, 'workspace.write');
    await repo.updateWorkspace(
      this.db,
      context.workspaceId,
      {
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.monthlyTokenBudget !== undefined ? { monthly_token_budget: changes.monthlyTokenBudget === null ? null : String(changes.monthlyTokenBudget) } : {}),
      },
      this.clock.now(),
    );
    await this.forgetMemberships();
    return (await repo.findMembership(this.db, context.workspaceId, context.userId))!;
  }

  /** The members; `email` is null for a caller whose role may not see addresses (permissions.ts). */
  async members(context: WorkspaceContext): Promise<(Omit<repo.MemberRow, 'email'> & { email: string | null })[]> {
    this.require(context, 'members.read');
    const rows = await repo.listMembers(this.db, context.workspaceId);
    return can(context.role, 'members.emails') ? rows : rows.map((row) => ({ ...row, email: null }));
  }

  /**
   * Changes a member's role. Owners manage owners and admins; a workspace keeps at least
   * one owner, decided under the workspace lock (see `underOwnerLock`).
   */
  async changeRole(context: WorkspaceContext, userId: string, role: WorkspaceRole, by?: Actor): Promise<void> {
    this.require(context, 'members.write');
    await this.underOwnerLock(context, userId, async (trx, actor, target) => {
      this.require(actor, 'members.write');
      // Only owners touch owners and admins, and only owners make them.
      if (target.role === 'owner' || target.role === 'admin' || role === 'owner' || role === 'admin') this.require(actor, 'members.promote');
      if (target.role === 'owner' && role !== 'owner') await keepAnOwner(trx, context.workspaceId);
      await repo.setMemberRole(trx, context.workspaceId, userId, role);
      await this.record(trx, by, { action: 'workspace.member.role_changed', workspaceId: context.workspaceId, target: { type: 'workspace_member' }, subjectId: userId, details: { role } });
    });
    await this.forgetMemberships(); // after the commit: a reload now finds the change
  }

  /** Removes a member, or leaves (the caller's own id); the last owner cannot go. */
  async removeMember(context: WorkspaceContext, userId: string, by?: Actor): Promise<void> {
    if (context.workspace.personal_owner_id === userId) throw new AppError('conflict', 'The owner of a personal workspace cannot leave it.');
    await this.underOwnerLock(context, userId, async (trx, actor, target) => {
      if (userId !== context.userId) {
        this.require(actor, 'members.write');
        if (target.role === 'owner' || target.role === 'admin') this.require(actor, 'members.promote');
      }
      if (target.role === 'owner') await keepAnOwner(trx, context.workspaceId);
      await repo.removeMember(trx, context.workspaceId, userId);
      await this.record(trx, by, { action: 'workspace.member.removed', workspaceId: context.workspaceId, target: { type: 'workspace_member' }, subjectId: userId });
    });
    await this.forgetMemberships(); // after the commit: a reload now finds the change
  }

  /**
   * Runs a membership change in one transaction holding the workspace row lock, with the
   * caller's and the target's roles read again under it. Every change that can lower
   * the number of owners takes this lock (account erasure too), so two of them cannot
   * both count the same owners and both go ahead (docs/security-model.md, "Atomic decisions").
   */
  private underOwnerLock(context: WorkspaceContext, userId: string, change: (trx: Db, actor: WorkspaceContext, target: { role: WorkspaceRole }) => Promise<void>): Promise<void> {
    return this.transaction(async (trx) => {
      if (!(await repo.lockWorkspace(trx, context.workspaceId))) throw new AppError('not_found', 'No such workspace.');
      // The caller may have been demoted or removed by a request that held the lock first.
      const caller = await repo.findMemberRole(trx, context.workspaceId, context.userId);
      if (!caller) throw new AppError('not_found', 'No such workspace.');
      const target = userId === context.userId ? caller : await repo.findMemberRole(trx, context.workspaceId, userId);
      if (!target) throw new AppError('not_found', 'No such member.');
      await change(trx, { ...context, role: caller.role }, target);
    });
  }

  /** Mails a single-use link valid for 7 days; only its hash is stored. */
  async invite(context: WorkspaceContext, email: string, role: Exclude<WorkspaceRole, 'owner'>, by?: Actor): Promise<repo.InvitationRow> {
    this.require(context, 'members.write');
    if (role === 'admin') this.require(context, 'members.promote');
    if (context.workspace.personal_owner_id) throw new AppError('conflict', 'Personal workspaces cannot be shared; create a workspace to invite people.');
    const now = this.clock.now();
    const { token, hash } = generateToken('inv');
    const row = {
      id: randomUUID(),
      workspace_id: context.workspaceId,
      email: normalizeEmail(email),
      role,
      token_hash: hash,
      invited_by: context.userId,
      created_at: now,
      expires_at: new Date(now.getTime() + INVITATION_TTL_MS),
    };
    await this.transaction(async (trx) => {
      await repo.insertInvitation(trx, row);
      // The invitee's address stays out of the log: the invitation id leads to it while it exists.
      await this.record(trx, by, { action: 'workspace.invitation.created', workspaceId: context.workspaceId, target: { type: 'workspace_invitation', id: row.id }, details: { role } });
    });
    await this.mailer.send(workspaceMails.invitation(row.email, context.workspace.name, `${this.publicUrl}/invitations#token=${token}`));
    return { ...row, accepted_at: null, revoked_at: null };
  }

  invitations(context: WorkspaceContext): Promise<repo.InvitationRow[]> {
    this.require(context, 'members.write');
    return repo.listOpenInvitations(this.db, context.workspaceId, this.clock.now());
  }

  async revokeInvitation(context: WorkspaceContext, id: string, by?: Actor): Promise<void> {
    this.require(context, 'members.write');
    await this.transaction(async (trx) => {
      if (!(await repo.revokeInvitation(trx, context.workspaceId, id, this.clock.now()))) throw new AppError('not_found', 'No such invitation.');
      await this.record(trx, by, { action: 'workspace.invitation.revoked', workspaceId: context.workspaceId, target: { type: 'workspace_invitation', id } });
    });
  }

  /** One transaction; through the audit log when there is one, so a checkpoint due after it is signed. */
  private transaction<T>(work: (trx: Db) => Promise<T>): Promise<T> {
    return this.audit ? this.audit.transaction(work) : this.db.transaction().execute(work);
  }

  /** Appends `by`'s audit entry to the change in `trx`; nothing when no one is named (the system acting). */
  private async record(trx: Db, by: Actor | undefined, event: AuditEvent): Promise<void> {
    if (!by) return;
    if (!this.audit) throw new Error('WorkspaceService needs an AuditLog to record changes');
    await this.audit.append(trx, by, event);
  }

  /**
   * Joins the invitation's workspace. With the mailed token (which proves the mailbox), or by
   * id from the invitee's list of pending invitations (their address must be verified).
   * The invitation must be open, unexpired and addressed to the caller's email.
   */
  async accept(userId: string, key: { token: string } | { id: string }, by?: Actor): Promise<repo.MembershipRow> {
    const user = await this.users.byId(userId);
    const byId = 'id' in key;
    const usable = user && (!byId || user.email_verified_at !== null);
    const invitation =
      usable &&
      (await this.transaction(async (trx) => {
        const accepted = await repo.acceptInvitation(trx, byId ? { id: key.id } : { tokenHash: hashToken(key.token) }, userId, normalizeEmail(user.email), this.clock.now());
        if (accepted) await this.record(trx, by, { action: 'workspace.invitation.accepted', workspaceId: accepted.workspace_id, target: { type: 'workspace_invitation', id: accepted.id }, details: { role: accepted.role } });
        return accepted;
      }));
    if (!invitation) {
      if (byId) throw new AppError('not_found', user && user.email_verified_at === null ? 'Confirm your email address first: invitations are matched by it.' : 'No such open invitation for you.');
      throw new AppError('invalid_token', 'This invitation link is invalid, used, expired or addressed to another email address.');
    }
    await this.forgetMemberships();
    return (await repo.findMembership(this.db, invitation.workspace_id, userId))!;
  }

  /** What an invitation link offers, for the page it opens (the token proves the mailbox, so the address may be shown). */
  async preview(token: string): Promise<{ workspaceName: string; email: string; role: WorkspaceRole; expiresAt: Date; hasAccount: boolean }> {
    const invitation = token.length <= 200 ? await repo.findUsableInvitation(this.db, { tokenHash: hashToken(token) }, this.clock.now()) : undefined;
    if (!invitation) throw new AppError('invalid_token', 'This invitation link is invalid, used or expired; ask whoever invited you for a new one.');
    return { workspaceName: invitation.workspace_name, email: invitation.email, role: invitation.role, expiresAt: invitation.expires_at, hasAccount: (await this.users.byEmail(invitation.email)) !== undefined };
  }

  /** The address a usable invitation token was sent to (registration through an invitation), else undefined. */
  async invitationAddressee(token: string): Promise<string | undefined> {
    if (token.length > 200) return undefined;
    return (await repo.findUsableInvitation(this.db, { tokenHash: hashToken(token) }, this.clock.now()))?.email;
  }

  /** Open invitations addressed to the user's verified email, with who sent them. */
  async pendingFor(userId: string): Promise<{ id: string; workspaceName: string; role: WorkspaceRole; invitedBy: string | null; expiresAt: Date }[]> {
    const user = await this.users.byId(userId);
    if (!user || user.email_verified_at === null) return [];
    const rows = await repo.listInvitationsFor(this.db, normalizeEmail(user.email), this.clock.now());
    const inviters = new Map<string, string | null>();
    for (const { invited_by: by } of rows) if (by && !inviters.has(by)) inviters.set(by, (await this.users.byId(by))?.name ?? null);
    return rows.map((row) => ({ id: row.id, workspaceName: row.workspace_name, role: row.role, invitedBy: (row.invited_by && inviters.get(row.invited_by)) ?? null, expiresAt: row.expires_at }));
  }

  /** The invitee says no: the invitation closes (recorded as revoked). */
  async decline(userId: string, id: string, by?: Actor): Promise<void> {
    const user = await this.users.byId(userId);
    if (!user || user.email_verified_at === null) throw new AppError('not_found', 'No such open invitation for you.');
    await this.transaction(async (trx) => {
      const declined = await repo.declineInvitation(trx, id, normalizeEmail(user.email), this.clock.now());
      if (!declined) throw new AppError('not_found', 'No such open invitation for you.');
      await this.record(trx, by, { action: 'workspace.invitation.declined', workspaceId: declined.workspace_id, target: { type: 'workspace_invitation', id } });
    });
  }
}

const LAST_OWNER = 'A workspace needs at least one owner; make someone else owner first.';

/** Refuses a change that would take away the workspace's only owner; call under the workspace lock. */
async function keepAnOwner(trx: Db, workspaceId: string): Promise<void> {
  if ((await repo.countOwners(trx, workspaceId)) <= 1) throw new AppError('conflict', LAST_OWNER);
}
