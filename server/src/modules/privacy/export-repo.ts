/** Queries for data exports: the export rows, and what an archive holds about one user. */
import type { Db } from '../../platform/db/database.js';

// ---- export rows ----

export function insertExport(db: Db, row: { id: string; user_id: string; created_at: Date }): Promise<unknown> {
  return db
    .insertInto('data_exports')
    .values({ ...row, status: 'pending' })
    .execute();
}

export function latestExport(db: Db, userId: string) {
  return db.selectFrom('data_exports').select(['id', 'created_at']).where('user_id', '=', userId).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
}

export function listExports(db: Db, userId: string) {
  return db.selectFrom('data_exports').select(['id', 'status', 'size_bytes', 'created_at', 'completed_at', 'expires_at', 'downloaded_at']).where('user_id', '=', userId).orderBy('created_at', 'desc').limit(50).execute();
}

export function findExport(db: Db, id: string) {
  return db.selectFrom('data_exports').select(['id', 'user_id', 'status']).where('id', '=', id).executeTakeFirst();
}

export function findUserExport(db: Db, userId: string, id: string) {
  return db.selectFrom('data_exports').select(['id', 'status', 'token_hash', 'archive', 'expires_at']).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export async function completeExport(db: Db, id: string, values: { token_hash: string; archive: Buffer; size_bytes: number; completed_at: Date; expires_at: Date }): Promise<boolean> {
  const result = await db
    .updateTable('data_exports')
    .set({ ...values, size_bytes: String(values.size_bytes), status: 'ready' })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function failExport(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('data_exports').set({ status: 'failed', completed_at: now }).where('id', '=', id).where('status', '=', 'pending').execute();
}

/** Claims the one download: only one caller turns `ready` into `downloaded`, and the archive goes. */
export async function claimDownload(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('data_exports').set({ status: 'downloaded', archive: null, downloaded_at: now }).where('id', '=', id).where('status', '=', 'ready').where('expires_at', '>', now).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

// ---- what an archive holds (only rows about or made by the user) ----

export function profile(db: Db, userId: string) {
  return db.selectFrom('users').select(['id', 'email', 'name', 'role', 'email_verified_at', 'totp_enabled_at', 'password_changed_at', 'created_at', 'updated_at', 'erasure_scheduled_at']).where('id', '=', userId).executeTakeFirst();
}

export function sessions(db: Db, userId: string) {
  return db.selectFrom('sessions').select(['id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at', 'revoked_at', 'revoked_reason']).where('user_id', '=', userId).orderBy('created_at').execute();
}

export function signIns(db: Db, userId: string) {
  return db.selectFrom('sign_ins').select(['at', 'ip', 'network', 'score', 'reasons']).where('user_id', '=', userId).orderBy('at').execute();
}

export function securityEvents(db: Db, userId: string) {
  return db.selectFrom('security_events').select(['id', 'type', 'ip', 'details', 'created_at']).where('user_id', '=', userId).orderBy('created_at').execute();
}

export function apiKeys(db: Db, userId: string) {
  return db.selectFrom('api_keys').select(['id', 'name', 'hint', 'scopes', 'allowed_cidrs', 'expires_at', 'last_used_at', 'last_used_ip', 'created_at', 'revoked_at']).where('user_id', '=', userId).orderBy('created_at').execute();
}

export function identities(db: Db, userId: string) {
  return db.selectFrom('user_identities').select(['issuer', 'subject', 'email', 'created_at']).where('user_id', '=', userId).execute();
}

export function memberships(db: Db, userId: string) {
  return db
    .selectFrom('workspace_members as m')
    .innerJoin('workspaces as w', 'w.id', 'm.workspace_id')
    .select(['w.id', 'w.name', 'w.personal_owner_id', 'w.monthly_token_budget', 'w.created_at', 'm.role', 'm.created_at as joined_at'])
    .where('m.user_id', '=', userId)
    .orderBy('w.created_at')
    .execute();
}

export function usage(db: Db, workspaceIds: string[]) {
  if (workspaceIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('workspace_usage').select(['workspace_id', 'period', 'input_tokens', 'output_tokens']).where('workspace_id', 'in', workspaceIds).execute();
}

/** Agents of the personal workspace, or created by the user elsewhere. */
export function agents(db: Db, userId: string, personalIds: string[]) {
  return db
    .selectFrom('agents')
    .select(['id', 'workspace_id', 'current_version', 'created_at', 'updated_at', 'deleted_at'])
    .where((eb) => eb.or([eb('created_by', '=', userId), ...(personalIds.length > 0 ? [eb('workspace_id', 'in', personalIds)] : [])]))
    .orderBy('created_at')
    .execute();
}

/** Versions the user wrote (in the personal workspace: every version). */
export function agentVersions(db: Db, userId: string, agentIds: string[], personalIds: string[]) {
  if (agentIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('agent_versions as v')
    .innerJoin('agents as a', 'a.id', 'v.agent_id')
    .select(['v.agent_id', 'v.version', 'v.config', 'v.created_at'])
    .where('v.agent_id', 'in', agentIds)
    .where((eb) => eb.or([eb('v.created_by', '=', userId), ...(personalIds.length > 0 ? [eb('a.workspace_id', 'in', personalIds)] : [])]))
    .orderBy('v.agent_id')
    .orderBy('v.version')
    .execute();
}

/** The user's own conversations, in every workspace (others' conversations shared with them are not theirs), deleted ones not purged yet included. */
export function conversations(db: Db, userId: string) {
  return db
    .selectFrom('conversations')
    .select(['id', 'workspace_id', 'agent_id', 'agent_version', 'source', 'title', 'created_at', 'updated_at', 'pinned_at', 'archived_at', 'deleted_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

/** The read-only links the user made to a conversation, revoked ones included. */
export function conversationShares(db: Db, conversationId: string) {
  return db.selectFrom('conversation_shares').select(['id', 'created_at', 'revoked_at']).where('conversation_id', '=', conversationId).orderBy('created_at').execute();
}

export function messages(db: Db, conversationId: string) {
  return db.selectFrom('messages').select(['id', 'role', 'content', 'status', 'stop_reason', 'model', 'input_tokens', 'output_tokens', 'superseded', 'created_at']).where('conversation_id', '=', conversationId).orderBy('seq').execute();
}

export function knowledgeBases(db: Db, userId: string, personalIds: string[]) {
  return db
    .selectFrom('knowledge_bases')
    .select(['id', 'workspace_id', 'conversation_id', 'name', 'description', 'created_at', 'updated_at'])
    .where((eb) => eb.or([eb('created_by', '=', userId), ...(personalIds.length > 0 ? [eb('workspace_id', 'in', personalIds)] : [])]))
    .orderBy('created_at')
    .execute();
}

/** Documents the user uploaded, and every document of the personal workspace. */
export function documents(db: Db, userId: string, personalIds: string[]) {
  return db
    .selectFrom('documents as d')
    .leftJoin('document_blobs as b', 'b.document_id', 'd.id')
    .select(['d.id', 'd.workspace_id', 'd.knowledge_base_id', 'd.filename', 'd.source', 'd.source_url', 'd.kind', 'd.size_bytes', 'd.content_hash', 'd.status', 'd.title', 'd.created_at', 'b.data'])
    .where((eb) => eb.or([eb('d.created_by', '=', userId), ...(personalIds.length > 0 ? [eb('d.workspace_id', 'in', personalIds)] : [])]))
    .orderBy('d.created_at')
    .execute();
}

export function policyAcceptances(db: Db, userId: string) {
  return db.selectFrom('policy_acceptances').select(['kind', 'version', 'sha256', 'accepted_at']).where('user_id', '=', userId).orderBy('accepted_at').execute();
}

export function consentRecords(db: Db, userId: string) {
  return db.selectFrom('consent_records').select(['purpose', 'granted', 'policy_version', 'recorded_at']).where('user_id', '=', userId).orderBy('recorded_at').execute();
}
