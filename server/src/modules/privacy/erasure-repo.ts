/** Queries for account erasure; no rules here. Every function takes the transaction it runs in. */
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceRole } from '../../domain/workspaces.js';

export async function scheduleErasure(db: Db, userId: string, requestedAt: Date, scheduledAt: Date): Promise<void> {
  await db.updateTable('users').set({ erasure_requested_at: requestedAt, erasure_scheduled_at: scheduledAt, updated_at: requestedAt }).where('id', '=', userId).execute();
}

/** Clears a pending request; returns whether one was pending. */
export async function cancelErasure(db: Db, userId: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('users').set({ erasure_requested_at: null, erasure_scheduled_at: null, updated_at: now }).where('id', '=', userId).where('erasure_scheduled_at', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Claims the next due account: the row stays locked until the transaction ends, and
 * other instances skip it (`for update skip locked`), so each account is erased once.
 */
export function claimDueErasure(trx: Db, now: Date): Promise<{ id: string; email: string; name: string } | undefined> {
  return trx.selectFrom('users').select(['id', 'email', 'name']).where('erasure_scheduled_at', '<=', now).orderBy('erasure_scheduled_at').limit(1).forUpdate().skipLocked().executeTakeFirst();
}

export function sessionHashes(trx: Db, userId: string): Promise<{ token_hash: string }[]> {
  return trx.selectFrom('sessions').select('token_hash').where('user_id', '=', userId).execute();
}

export function apiKeyHashes(trx: Db, userId: string): Promise<{ key_hash: string }[]> {
  return trx.selectFrom('api_keys').select('key_hash').where('user_id', '=', userId).execute();
}

export function personalWorkspaceIds(trx: Db, userId: string): Promise<{ id: string }[]> {
  return trx.selectFrom('workspaces').select('id').where('personal_owner_id', '=', userId).execute();
}

/**
 * Locks the shared workspaces the user belongs to, in id order, until the transaction
 * ends: the same lock role changes and removals take (workspaces/service.ts), so no
 * owner can step down between the choice of a successor and the user's deletion.
 */
export async function lockSharedWorkspaces(trx: Db, userId: string): Promise<void> {
  await trx
    .selectFrom('workspaces')
    .select('id')
    .where('personal_owner_id', 'is', null)
    .where('id', 'in', (eb) => eb.selectFrom('workspace_members').select('workspace_id').where('user_id', '=', userId))
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
}

/** Shared workspaces the user owns. */
export function ownedSharedWorkspaceIds(trx: Db, userId: string): Promise<{ id: string }[]> {
  return trx.selectFrom('workspace_members as m').innerJoin('workspaces as w', 'w.id', 'm.workspace_id').select('w.id').where('m.user_id', '=', userId).where('m.role', '=', 'owner').where('w.personal_owner_id', 'is', null).execute();
}

/** Other members of a workspace, best successor first: owners, admins, members, viewers; oldest first. */
export function otherMembers(trx: Db, workspaceId: string, userId: string): Promise<{ user_id: string; role: WorkspaceRole }[]> {
  return trx
    .selectFrom('workspace_members')
    .select(['user_id', 'role'])
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '<>', userId)
    .orderBy(sql`case role when 'owner' then 0 when 'admin' then 1 when 'member' then 2 else 3 end`)
    .orderBy('created_at')
    .execute();
}

export async function setMemberRole(trx: Db, workspaceId: string, userId: string, role: WorkspaceRole): Promise<void> {
  await trx.updateTable('workspace_members').set({ role }).where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
}

/** Takes the person's name and email out of the name of a workspace that outlives them. */
export async function scrubWorkspaceName(trx: Db, workspaceId: string, name: string, email: string): Promise<void> {
  const replacement = 'a former member';
  await trx
    .updateTable('workspaces')
    .set({ name: sql`replace(replace(name, ${name}, ${replacement}), ${email}, ${replacement})` })
    .where('id', '=', workspaceId)
    .execute();
}

export function agentIdsIn(trx: Db, workspaceIds: string[]): Promise<{ id: string }[]> {
  if (workspaceIds.length === 0) return Promise.resolve([]);
  return trx.selectFrom('agents').select('id').where('workspace_id', 'in', workspaceIds).execute();
}

export async function deleteAgentSecrets(trx: Db, agentIds: string[]): Promise<void> {
  if (agentIds.length === 0) return;
  await trx.deleteFrom('signing_secrets').where('owner_type', '=', 'agent_webhook').where('owner_id', 'in', agentIds).execute();
}

/** Deletes workspaces; their agents, conversations, documents, chunks… go by cascade. */
export async function deleteWorkspaces(trx: Db, workspaceIds: string[]): Promise<void> {
  if (workspaceIds.length === 0) return;
  await trx.deleteFrom('workspaces').where('id', 'in', workspaceIds).execute();
}

/** Crypto-shredding: deletes the wrapped data keys of the user and of the given workspaces. */
export async function deleteDataKeys(trx: Db, userId: string, workspaceIds: string[]): Promise<number> {
  const rows = await trx
    .deleteFrom('data_keys')
    .where((eb) => {
      const user = eb.and([eb('scope', '=', 'user'), eb('owner_id', '=', userId)]);
      return workspaceIds.length === 0 ? user : eb.or([user, eb.and([eb('scope', '=', 'workspace'), eb('owner_id', 'in', workspaceIds)])]);
    })
    .returning('id')
    .execute();
  return rows.length;
}

/** Security events about the user, or whose details name them. */
export async function deleteSecurityEvents(trx: Db, userId: string, email: string): Promise<void> {
  await trx
    .deleteFrom('security_events')
    .where((eb) => eb.or([eb('user_id', '=', userId), eb(sql`position(${userId} in details::text)`, '>', 0), eb(sql`position(${email} in lower(details::text))`, '>', 0)]))
    .execute();
}

/** Mail to the address (the outbox keeps bodies encrypted, but the address is in clear). */
export async function deleteMailTo(trx: Db, email: string): Promise<void> {
  await trx
    .deleteFrom('mail_outbox')
    .where(sql`lower(to_address)`, '=', email)
    .execute();
}

/** Invitations and tokens naming the address before an account existed. */
export async function deleteInvitationsTo(trx: Db, email: string): Promise<void> {
  await trx
    .deleteFrom('workspace_invitations')
    .where(sql`lower(email)`, '=', email)
    .execute();
  await trx
    .deleteFrom('auth_tokens')
    .where(sql`lower(email)`, '=', email)
    .execute();
}

/** Deletes the account; sessions, keys, memberships, conversations, exports, consents… go by cascade. */
export async function deleteUser(trx: Db, userId: string): Promise<void> {
  await trx.deleteFrom('users').where('id', '=', userId).execute();
}
