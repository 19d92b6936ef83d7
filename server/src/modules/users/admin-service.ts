/**
 * Administration of accounts by instance administrators: the account list, disabling and
 * enabling an account, lifting a sign-in lock and resetting a lost second factor. The
 * routes check the caller is an administrator; every change is written to the audit log in
 * its own transaction and reported as a security event.
 *
 * Disabling sets users.disabled_at, then ends the account's sessions and revokes its API
 * keys and refresh tokens (and, through their markers, the access tokens made from them);
 * sign-in and every credential check refuse a disabled account besides (disabled.ts).
 */
import { AppError } from '../../errors.js';
import type { Actor } from '../audit/actor.js';
import type { AuditEvent, AuditLog } from '../audit/service.js';
import { revokeMachineCredentials, securityEvent, sendInBackground, type AuthDeps } from '../auth/deps.js';
import { mails } from '../auth/mail-templates.js';
import { resetSecondFactor } from '../auth/mfa-service.js';
import { accountKey } from '../auth/throttle.js';
import { reauthenticate, type Reauthentication } from '../privacy/erasure.js';
import { findAdminUser, lockEnabledAdmins, markDisabled, markEnabled, searchUsers, type AdminUserRow } from './admin-repo.js';
import type { UserRow } from './service.js';
import { originOfActor } from '../security-events/origin.js';

/** One account as the administration screen shows it. */
export interface AdminUserView {
  id: string;
  email: string;
  name: string;
  role: UserRow['role'];
  createdAt: string;
  emailVerified: boolean;
  mfaEnabled: boolean;
  disabled: boolean;
  disabledAt: string | null;
  /** Locked after repeated failed sign-ins (the throttle's lock); `lockedUntil` says until when. */
  locked: boolean;
  lockedUntil: string | null;
}

export interface UserQuery {
  q?: string | undefined;
  limit: number;
  offset: number;
}

export const LAST_ADMIN_MESSAGE = 'This is the last enabled administrator; make someone else an administrator first.';

export class AdminUserService {
  constructor(
    private readonly deps: AuthDeps,
    private readonly audit: AuditLog,
  ) {}

  /** A page of accounts matching `q` (email or name), newest first; `nextOffset` is null on the last page. */
  async list(query: UserQuery): Promise<{ users: AdminUserView[]; nextOffset: number | null }> {
    const rows = await searchUsers(this.deps.db, { q: query.q, limit: query.limit + 1, offset: query.offset });
    const page = rows.slice(0, query.limit);
    return { users: await Promise.all(page.map((row) => this.view(row))), nextOffset: rows.length > query.limit ? query.offset + query.limit : null };
  }

  /**
   * Disables an account and ends every credential it holds. Refused for the caller's own
   * account and for the last enabled administrator: the enabled administrators' rows are
   * locked first, so two administrators disabling each other at once leave one enabled.
   */
  async disable(admin: UserRow, id: string, by: Actor): Promise<AdminUserView> {
    if (id === admin.id) throw new AppError('conflict', 'You cannot disable your own account.');
    const target = await this.target(id);
    const changed = await this.audit.transaction(async (trx) => {
      if (target.role === 'admin') {
        const enabledAdmins = await lockEnabledAdmins(trx);
        if (enabledAdmins.includes(id) && enabledAdmins.length <= 1) throw new AppError('conflict', LAST_ADMIN_MESSAGE);
      }
      if (!(await markDisabled(trx, id, this.deps.clock.now()))) return false;
      await this.record(trx, by, target, 'user.disabled');
      return true;
    });
    // After the commit: a sign-in racing this finds the account disabled (auth/service.ts completeSignIn).
    await this.deps.users.forgetGateState(id);
    await this.deps.sessions.revokeAll(id, 'account_disabled', undefined, originOfActor(by));
    await revokeMachineCredentials(this.deps, id);
    if (changed) await securityEvent(this.deps, { type: 'auth.account_disabled', userId: id, ...originOfActor(by), details: { by: admin.id } });
    return this.view(await this.target(id));
  }

  /** Enables a disabled account again; its owner signs in afresh (nothing revoked comes back). */
  async enable(admin: UserRow, id: string, by: Actor): Promise<AdminUserView> {
    const target = await this.target(id);
    const changed = await this.audit.transaction(async (trx) => {
      if (!(await markEnabled(trx, id, this.deps.clock.now()))) return false;
      await this.record(trx, by, target, 'user.enabled');
      return true;
    });
    await this.deps.users.forgetGateState(id);
    if (changed) await securityEvent(this.deps, { type: 'auth.account_enabled', userId: id, ...originOfActor(by), details: { by: admin.id } });
    return this.view(await this.target(id));
  }

  /** Lifts the sign-in lock and the failure count of an account. */
  async unlock(admin: UserRow, id: string, by: Actor): Promise<AdminUserView> {
    const target = await this.target(id);
    await this.deps.throttle.unlock(accountKey(target.email));
    await this.audit.recordAction(by, { action: 'user.unlocked', target: { type: 'user', id }, subjectId: id });
    await securityEvent(this.deps, { type: 'auth.account_unlocked', userId: id, ...originOfActor(by), details: { by: admin.id } });
    return this.view(target);
  }

  /**
   * Turns off a user's TOTP and recovery codes (a lost device) and ends their sessions;
   * the administrator proves who they are first (password, and a code when they use TOTP).
   */
  async resetMfa(admin: UserRow, id: string, proof: Reauthentication, by: Actor): Promise<AdminUserView> {
    const target = await this.target(id);
    await reauthenticate(this.deps, admin, proof, by.ip ?? '');
    await this.audit.transaction(async (trx) => {
      await resetSecondFactor(this.deps, id, trx);
      await this.record(trx, by, target, 'user.mfa_reset');
    });
    await this.deps.users.forgetGateState(id);
    await this.deps.sessions.revokeAll(id, 'mfa_reset', undefined, originOfActor(by));
    await securityEvent(this.deps, { type: 'auth.mfa_reset', userId: id, ...originOfActor(by), details: { by: admin.id } });
    sendInBackground(this.deps, mails.mfaReset(target.email));
    return this.view(await this.target(id));
  }

  private async target(id: string): Promise<AdminUserRow> {
    const row = await findAdminUser(this.deps.db, id);
    if (!row) throw new AppError('not_found', 'No such user.');
    return row;
  }

  private record(trx: Parameters<AuditLog['append']>[0], by: Actor, target: AdminUserRow, action: AuditEvent['action']): Promise<void> {
    return this.audit.append(trx, by, { action, target: { type: 'user', id: target.id }, subjectId: target.id, details: { role: target.role } });
  }

  private async view(row: AdminUserRow): Promise<AdminUserView> {
    const lockedUntil = await this.deps.throttle.lockedUntil(accountKey(row.email));
    return {
      id: row.id,
      email: row.email,
      name: row.name,
      role: row.role,
      createdAt: row.created_at.toISOString(),
      emailVerified: row.email_verified_at !== null,
      mfaEnabled: row.totp_enabled_at !== null,
      disabled: row.disabled_at !== null,
      disabledAt: row.disabled_at?.toISOString() ?? null,
      locked: lockedUntil !== null,
      lockedUntil: lockedUntil?.toISOString() ?? null,
    };
  }
}
