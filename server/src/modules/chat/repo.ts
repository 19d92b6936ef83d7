/**
 * Queries on conversations and messages. Every query filters by workspace, and
 * conversations also by their owner: a conversation is private to the person who
 * started it.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ConversationsTable, MessagesTable } from '../../platform/db/schema/index.js';

export type ConversationRow = Selectable<ConversationsTable>;
export type MessageRow = Selectable<MessagesTable>;

export interface Owner {
  workspaceId: string;
  userId: string;
}

export async function insertConversation(db: Db, row: ConversationRow): Promise<void> {
  await db.insertInto('conversations').values(row).execute();
}

export function listConversations(db: Db, owner: Owner, limit: number, before?: Date): Promise<ConversationRow[]> {
  let query = db.selectFrom('conversations').selectAll().where('workspace_id', '=', owner.workspaceId).where('user_id', '=', owner.userId);
  if (before) query = query.where('updated_at', '<', before);
  return query.orderBy('updated_at', 'desc').limit(limit).execute();
}

export function findConversation(db: Db, owner: Owner, id: string): Promise<ConversationRow | undefined> {
  return db.selectFrom('conversations').selectAll().where('workspace_id', '=', owner.workspaceId).where('user_id', '=', owner.userId).where('id', '=', id).executeTakeFirst();
}

export async function touchConversation(db: Db, owner: Owner, id: string, changes: { agent_version?: number; title?: Buffer }, now: Date): Promise<void> {
  await db
    .updateTable('conversations')
    .set({ ...changes, updated_at: now })
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('id', '=', id)
    .execute();
}

export async function deleteConversation(db: Db, owner: Owner, id: string): Promise<boolean> {
  const result = await db.deleteFrom('conversations').where('workspace_id', '=', owner.workspaceId).where('user_id', '=', owner.userId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export type NewMessage = Omit<MessageRow, 'seq' | 'input_tokens' | 'output_tokens' | 'superseded' | 'lease_owner'> & { lease_owner?: string | null };

export async function insertMessage(db: Db, row: NewMessage): Promise<void> {
  await db.insertInto('messages').values(row).execute();
}

/**
 * A question and its `streaming` answer row, with the conversation's first title, in one
 * statement (atomic on its own: no transaction, one round trip before the provider call).
 */
export async function insertExchange(db: Db, owner: Owner, conversationId: string, rows: readonly [NewMessage, NewMessage], title: Buffer | null, now: Date): Promise<void> {
  if (!title) {
    await db
      .insertInto('messages')
      .values([...rows])
      .execute();
    return;
  }
  await db
    .with('inserted', (qb) =>
      qb
        .insertInto('messages')
        .values([...rows])
        .returning('id'),
    )
    .updateTable('conversations')
    .set({ title, updated_at: now })
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('id', '=', conversationId)
    .execute();
}

export async function updateMessage(db: Db, workspaceId: string, id: string, changes: Partial<Pick<MessageRow, 'content' | 'status' | 'stop_reason' | 'input_tokens' | 'output_tokens' | 'model' | 'updated_at'>>): Promise<void> {
  await db.updateTable('messages').set(changes).where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/** Whether an answer of the conversation is streaming, written since `since` (a live one, not one left by a crash). */
export async function hasStreamingAnswer(db: Db, workspaceId: string, conversationId: string, since: Date): Promise<boolean> {
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('conversation_id', '=', conversationId)
    .where('role', '=', 'assistant')
    .where('status', '=', 'streaming')
    .where('updated_at', '>=', since)
    .executeTakeFirst();
  return row !== undefined;
}

/** The latest `limit` messages, oldest first. */
export async function listMessages(db: Db, workspaceId: string, conversationId: string, includeSuperseded: boolean, limit: number): Promise<MessageRow[]> {
  let query = db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId).where('conversation_id', '=', conversationId);
  if (!includeSuperseded) query = query.where('superseded', '=', false);
  return (await query.orderBy('seq', 'desc').limit(limit).execute()).reverse();
}

/** Hides the conversation's last assistant answer (kept for the record) before a regeneration. */
export async function supersedeLastAnswer(db: Db, workspaceId: string, conversationId: string): Promise<MessageRow | undefined> {
  const last = await db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId).where('conversation_id', '=', conversationId).where('superseded', '=', false).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  if (!last || last.role !== 'assistant' || last.status === 'streaming') return undefined;
  await db.updateTable('messages').set({ superseded: true }).where('id', '=', last.id).execute();
  return last;
}

/** Moves a streaming answer's heartbeat, while this process still holds its lease. */
export async function heartbeat(db: Db, workspaceId: string, id: string, owner: string, now: Date): Promise<void> {
  await db.updateTable('messages').set({ updated_at: now }).where('workspace_id', '=', workspaceId).where('id', '=', id).where('status', '=', 'streaming').where('lease_owner', '=', owner).execute();
}

/** Answers left `streaming` by a writer that stopped heartbeating before `olderThan` become `incomplete`. */
export async function markAbandoned(db: Db, olderThan: Date, keep: string[] = []): Promise<number> {
  let query = db.updateTable('messages').set({ status: 'incomplete', stop_reason: 'interrupted' }).where('status', '=', 'streaming').where('updated_at', '<', olderThan);
  if (keep.length > 0) query = query.where('id', 'not in', keep);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
