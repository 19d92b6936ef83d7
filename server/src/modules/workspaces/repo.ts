/** Queries on workspaces, members, invitations and usage; no rules here. */
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { WorkspaceInvitationsTable, WorkspacesTable } from '../../platform/db/schema/index.js';
import type { WorkspaceRole } from '../../domain/workspaces.js';

export type WorkspaceRow = Selectable<WorkspacesTable>;
export type InvitationRow = Selectable<WorkspaceInvitationsTable>;
export type MembershipRow = WorkspaceRow & { role: WorkspaceRole };

export async function insertWorkspace(db: Db, row: WorkspaceRow, ownerId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('workspaces')
      .values(row)
      .onConflict((oc) => oc.column('personal_owner_id').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) !== 1) return false;
    await trx.insertInto('workspace_members').values({ workspace_id: row.id, user_id: ownerId, role: 'owner', created_at: row.created_at }).execute();
    return true;
  });
}

export function findPersonalWorkspace(db: Db, userId: string): Promise<MembershipRow | undefined> {
  return db
    .selectFrom('workspaces as w')
    .innerJoin('workspace_members as m', (j) => j.onRef('m.workspace_id', '=', 'w.id').on('m.user_id', '=', userId))
    .selectAll('w')
    .select('m.role')
    .where('w.personal_owner_id', '=', userId)
    .executeTakeFirst();
}

/** The workspace with the caller's role in it; undefined when the caller is not a member. */
export function findMembership(db: Db, workspaceId: string, userId: string): Promise<MembershipRow | undefined> {
  return db.selectFrom('workspaces as w').innerJoin('workspace_members as m', 'm.workspace_id', 'w.id').selectAll('w').select('m.role').where('w.id', '=', workspaceId).where('m.user_id', '=', userId).executeTakeFirst();
}

export function listMemberships(db: Db, userId: string): Promise<MembershipRow[]> {
  return db.selectFrom('workspaces as w').innerJoin('workspace_members as m', 'm.workspace_id', 'w.id').selectAll('w').select('m.role').where('m.user_id', '=', userId).orderBy('w.created_at').execute();
}

export async function updateWorkspace(db: Db, id: string, changes: { name?: string; monthly_token_budget?: string | null }, now: Date): Promise<void> {
  await db
    .updateTable('workspaces')
    .set({ ...changes, updated_at: now })
    .where('id', '=', id)
    .execute();
}

export interface MemberRow {
  user_id: string;
  role: WorkspaceRole;
  created_at: Date;
  email: string;
  name: string;
}

export function listMembers(db: Db, workspaceId: string): Promise<MemberRow[]> {
  return db.selectFrom('workspace_members as m').innerJoin('users as u', 'u.id', 'm.user_id').select(['m.user_id', 'm.role', 'm.created_at', 'u.email', 'u.name']).where('m.workspace_id', '=', workspaceId).orderBy('m.created_at').execute();
}

export function findMemberRole(db: Db, workspaceId: string, userId: string): Promise<{ role: WorkspaceRole } | undefined> {
  return db.selectFrom('workspace_members').select('role').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst();
}

/**
 * Locks the workspace row until the transaction ends: every change that can lower the
 * number of owners takes it first. FOR NO KEY UPDATE still makes those changes take turns,
 * without holding up, meanwhile, every insert that references the workspace (its foreign
 * keys take KEY SHARE, which FOR UPDATE would block). False: no such workspace.
 */
export async function lockWorkspace(trx: Db, workspaceId: string): Promise<boolean> {
  return (await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forNoKeyUpdate().executeTakeFirst()) !== undefined;
}

export async function countOwners(db: Db, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('workspace_members')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function setMemberRole(db: Db, workspaceId: string, userId: string, role: WorkspaceRole): Promise<void> {
  await db.updateTable('workspace_members').set({ role }).where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
}

export async function removeMember(db: Db, workspaceId: string, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('workspace_members').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export async function insertInvitation(db: Db, row: Omit<InvitationRow, 'accepted_at' | 'revoked_at'>): Promise<void> {
  await db.insertInto('workspace_invitations').values(row).execute();
}

export function listOpenInvitations(db: Db, workspaceId: string, now: Date): Promise<InvitationRow[]> {
  return db.selectFrom('workspace_invitations').selectAll().where('workspace_id', '=', workspaceId).where('accepted_at', 'is', null).where('revoked_at', 'is', null).where('expires_at', '>', now).orderBy('created_at', 'desc').execute();
}

export async function revokeInvitation(db: Db, workspaceId: string, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('workspace_invitations').set({ revoked_at: now }).where('id', '=', id).where('workspace_id', '=', workspaceId).where('accepted_at', 'is', null).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** An invitation found by its token hash or by its id. */
export type InvitationKey = { tokenHash: string } | { id: string };

/** A usable (open, unexpired) invitation with its workspace's name. */
export function findUsableInvitation(db: Db, key: InvitationKey, now: Date): Promise<(InvitationRow & { workspace_name: string }) | undefined> {
  return db
    .selectFrom('workspace_invitations as i')
    .innerJoin('workspaces as w', 'w.id', 'i.workspace_id')
    .selectAll('i')
    .select('w.name as workspace_name')
    .where('tokenHash' in key ? 'i.token_hash' : 'i.id', '=', 'tokenHash' in key ? key.tokenHash : key.id)
    .where('i.accepted_at', 'is', null)
    .where('i.revoked_at', 'is', null)
    .where('i.expires_at', '>', now)
    .executeTakeFirst();
}

/** Usable invitations addressed to `email`, newest first, with their workspace's name. */
export function listInvitationsFor(db: Db, email: string, now: Date): Promise<(InvitationRow & { workspace_name: string })[]> {
  return db
    .selectFrom('workspace_invitations as i')
    .innerJoin('workspaces as w', 'w.id', 'i.workspace_id')
    .selectAll('i')
    .select('w.name as workspace_name')
    .where('i.email', '=', email)
    .where('i.accepted_at', 'is', null)
    .where('i.revoked_at', 'is', null)
    .where('i.expires_at', '>', now)
    .orderBy('i.created_at', 'desc')
    .limit(50)
    .execute();
}

/** Declines an open invitation addressed to `email` (recorded as revoked); false when there is none. */
export async function declineInvitation(db: Db, id: string, email: string, now: Date): Promise<InvitationRow | undefined> {
  return db.updateTable('workspace_invitations').set({ revoked_at: now }).where('id', '=', id).where('email', '=', email).where('accepted_at', 'is', null).where('revoked_at', 'is', null).returningAll().executeTakeFirst();
}

/** Marks a usable invitation accepted and adds the member, atomically; undefined when the invitation is unusable. */
export async function acceptInvitation(db: Db, key: InvitationKey, userId: string, email: string, now: Date): Promise<InvitationRow | undefined> {
  return inTransaction(db, async (trx) => {
    const invitation = await trx
      .updateTable('workspace_invitations')
      .set({ accepted_at: now })
      .where('tokenHash' in key ? 'token_hash' : 'id', '=', 'tokenHash' in key ? key.tokenHash : key.id)
      .where('email', '=', email)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    if (!invitation) return undefined;
    await trx
      .insertInto('workspace_members')
      .values({ workspace_id: invitation.workspace_id, user_id: userId, role: invitation.role, created_at: now })
      .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing())
      .execute();
    return invitation;
  });
}

export async function addUsage(db: Db, workspaceId: string, period: string, input: number, output: number): Promise<void> {
  await db
    .insertInto('workspace_usage')
    .values({ workspace_id: workspaceId, period, input_tokens: String(input), output_tokens: String(output) })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'period']).doUpdateSet({
        input_tokens: sql`workspace_usage.input_tokens + excluded.input_tokens`,
        output_tokens: sql`workspace_usage.output_tokens + excluded.output_tokens`,
      }),
    )
    .execute();
}

/** True when the workspace has no budget or this period's tokens are below it (one query). */
export async function hasBudgetLeft(db: Db, workspaceId: string, period: string): Promise<boolean> {
  const row = await db
    .selectFrom('workspaces as w')
    .leftJoin('workspace_usage as u', (join) => join.onRef('u.workspace_id', '=', 'w.id').on('u.period', '=', period))
    .select(sql<boolean>`w.monthly_token_budget is null or coalesce(u.input_tokens + u.output_tokens, 0) < w.monthly_token_budget`.as('left'))
    .where('w.id', '=', workspaceId)
    .executeTakeFirst();
  return row?.left === true;
}

export function findUsage(db: Db, workspaceId: string, period: string) {
  return db.selectFrom('workspace_usage').select(['input_tokens', 'output_tokens']).where('workspace_id', '=', workspaceId).where('period', '=', period).executeTakeFirst();
}

export async function addMember(db: Db, workspaceId: string, userId: string, role: WorkspaceRole, now: Date): Promise<void> {
  await db
    .insertInto('workspace_members')
    .values({ workspace_id: workspaceId, user_id: userId, role, created_at: now })
    .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing())
    .execute();
}

export async function setLastWorkspace(db: Db, userId: string, workspaceId: string): Promise<void> {
  await db.updateTable('users').set({ last_workspace_id: workspaceId }).where('id', '=', userId).execute();
}

export async function findLastWorkspace(db: Db, userId: string): Promise<string | null> {
  const row = await db.selectFrom('users').select('last_workspace_id').where('id', '=', userId).executeTakeFirst();
  return row?.last_workspace_id ?? null;
}
