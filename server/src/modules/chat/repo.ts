/**
 * Queries on conversations and messages. Every query filters by workspace, and
 * conversations also by their owner: a conversation is private to the person who
 * started it. A deleted conversation (deleted_at set) is invisible to every query here
 * but the restore and the purge.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ConversationsTable, MessagesTable } from '../../platform/db/schema/index.js';

/** A row as the chat reads it: without the search index's arrays, which only the indexer and the search read. */
export type ConversationRow = Omit<Selectable<ConversationsTable>, 'title_terms' | 'title_hits'>;
export type MessageRow = Omit<Selectable<MessagesTable>, 'search_terms' | 'search_hits'>;

export const CONVERSATION_COLUMNS = [
  'id',
  'workspace_id',
  'user_id',
  'agent_id',
  'agent_version',
  'source',
  'title',
  'created_at',
  'updated_at',
  'pinned_at',
  'archived_at',
  'deleted_at',
  'title_indexed_at',
] as const satisfies readonly (keyof ConversationRow)[];
const MESSAGE_COLUMNS = [
  'id',
  'seq',
  'conversation_id',
  'workspace_id',
  'role',
  'content',
  'status',
  'stop_reason',
  'agent_version',
  'model',
  'input_tokens',
  'output_tokens',
  'superseded',
  'lease_owner',
  'created_at',
  'updated_at',
  'search_indexed_at',
] as const satisfies readonly (keyof MessageRow)[];

export interface Owner {
  workspaceId: string;
  userId: string;
}

export async function insertConversation(db: Db, row: ConversationRow): Promise<void> {
  await db.insertInto('conversations').values(row).execute();
}

/** Which conversations a list shows: archived ones or the others; optionally only pinned or only unpinned ones. */
export interface ConversationFilter {
  archived: boolean;
  pinned?: boolean | undefined;
}

export function listConversations(db: Db, owner: Owner, limit: number, before?: Date, filter: ConversationFilter = { archived: false }): Promise<ConversationRow[]> {
  let query = db
    .selectFrom('conversations')
    .select(CONVERSATION_COLUMNS)
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('deleted_at', 'is', null)
    .where('archived_at', filter.archived ? 'is not' : 'is', null);
  if (filter.pinned !== undefined) query = query.where('pinned_at', filter.pinned ? 'is not' : 'is', null);
  if (before) query = query.where('updated_at', '<', before);
  return query.orderBy('updated_at', 'desc').limit(limit).execute();
}

export function findConversation(db: Db, owner: Owner, id: string): Promise<ConversationRow | undefined> {
  return db.selectFrom('conversations').select(CONVERSATION_COLUMNS).where('workspace_id', '=', owner.workspaceId).where('user_id', '=', owner.userId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

/** A conversation about to be answered, with the base of its attached files (null: none). */
export type ConversationToAnswer = ConversationRow & { attachment_base_id: string | null };

/** As findConversation, with the attachment base in the same query: one round trip fewer before the provider call. */
export function findConversationToAnswer(db: Db, owner: Owner, id: string): Promise<ConversationToAnswer | undefined> {
  return db
    .selectFrom('conversations as c')
    .select(CONVERSATION_COLUMNS.map((column) => `c.${column}` as const))
    .select((eb) => eb.selectFrom('knowledge_bases as kb').select('kb.id').whereRef('kb.conversation_id', '=', 'c.id').limit(1).as('attachment_base_id'))
    .where('c.workspace_id', '=', owner.workspaceId)
    .where('c.user_id', '=', owner.userId)
    .where('c.id', '=', id)
    .where('c.deleted_at', 'is', null)
    .executeTakeFirst();
}

/** What organising a conversation changes; an absent field stays as it is. */
export interface OrganiseChanges {
  title?: Buffer | undefined;
  pinned?: boolean | undefined;
  archived?: boolean | undefined;
}

/**
 * Renames, pins or archives a live conversation of the owner in one conditional UPDATE
 * (undefined: none matched). Pinning or archiving again keeps the first time; the
 * activity time (updated_at) does not move, so the list order stays as it was.
 */
export function organiseConversation(db: Db, owner: Owner, id: string, changes: OrganiseChanges, now: Date): Promise<ConversationRow | undefined> {
  return db
    .updateTable('conversations')
    .set((eb) => ({
      ...(changes.title ? { title: changes.title, title_indexed_at: null } : {}),
      ...(changes.pinned === undefined ? {} : { pinned_at: changes.pinned ? eb.fn.coalesce('pinned_at', eb.val(now)) : null }),
      ...(changes.archived === undefined ? {} : { archived_at: changes.archived ? eb.fn.coalesce('archived_at', eb.val(now)) : null }),
    }))
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returning(CONVERSATION_COLUMNS)
    .executeTakeFirst();
}

/** Marks a live conversation of the owner deleted; false when none matched (gone, or not theirs). */
export async function markDeleted(db: Db, owner: Owner, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('conversations').set({ deleted_at: now }).where('workspace_id', '=', owner.workspaceId).where('user_id', '=', owner.userId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Brings back a conversation of the owner deleted at or after `deletedSince`, or answers it
 * as it is when it is not deleted — one statement, so a deletion racing it lands wholly
 * before or after. Undefined when none matched (not theirs, or deleted earlier).
 */
export function restoreDeleted(db: Db, owner: Owner, id: string, deletedSince: Date): Promise<ConversationRow | undefined> {
  return db
    .updateTable('conversations')
    .set({ deleted_at: null })
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('id', '=', id)
    .where((eb) => eb.or([eb('deleted_at', 'is', null), eb('deleted_at', '>=', deletedSince)]))
    .returning(CONVERSATION_COLUMNS)
    .executeTakeFirst();
}

/**
 * Deletes up to `batch` conversations deleted before `before`, their messages by cascade.
 * Rows another purge holds are skipped (`skip locked`), and the condition is checked again
 * on the row deleted, so a restore that committed meanwhile wins.
 */
export async function purgeDeleted(db: Db, before: Date, batch: number): Promise<number> {
  const result = await db
    .deleteFrom('conversations')
    .where('id', 'in', (eb) => eb.selectFrom('conversations').select('id').where('deleted_at', '<', before).limit(batch).forUpdate().skipLocked())
    .where('deleted_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export type NewMessage = Omit<MessageRow, 'seq' | 'input_tokens' | 'output_tokens' | 'superseded' | 'lease_owner' | 'search_indexed_at' | 'search_terms' | 'search_hits'> & { lease_owner?: string | null };

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
    .set({ title, title_indexed_at: null, updated_at: now })
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('id', '=', conversationId)
    .where('title', 'is', null) // a rename that got there first stays
    .execute();
}

/**
 * An answer's final state and its conversation's agent version and time, in one statement:
 * atomic on its own, and one round trip at the end of every answer instead of two.
 */
export async function finishAnswer(
  db: Db,
  owner: Owner,
  conversationId: string,
  messageId: string,
  changes: Pick<MessageRow, 'content' | 'status' | 'stop_reason' | 'input_tokens' | 'output_tokens'>,
  agentVersion: number,
  now: Date,
): Promise<void> {
  await db
    .with('answer', (qb) =>
      qb
        .updateTable('messages')
        .set({ ...changes, search_indexed_at: null, updated_at: now }) // new content: the indexer reads it again
        .where('workspace_id', '=', owner.workspaceId)
        .where('id', '=', messageId)
        .returning('id'),
    )
    .updateTable('conversations')
    .set({ agent_version: agentVersion, updated_at: now })
    .where('workspace_id', '=', owner.workspaceId)
    .where('user_id', '=', owner.userId)
    .where('id', '=', conversationId)
    .execute();
}

/** A change of content takes the message out of the search index until the indexer has read it again. */
export async function updateMessage(db: Db, workspaceId: string, id: string, changes: Partial<Pick<MessageRow, 'content' | 'status' | 'stop_reason' | 'input_tokens' | 'output_tokens' | 'model' | 'updated_at'>>): Promise<void> {
  await db
    .updateTable('messages')
    .set({ ...changes, ...(changes.content ? { search_indexed_at: null } : {}) })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
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
  let query = db.selectFrom('messages').select(MESSAGE_COLUMNS).where('workspace_id', '=', workspaceId).where('conversation_id', '=', conversationId);
  if (!includeSuperseded) query = query.where('superseded', '=', false);
  return (await query.orderBy('seq', 'desc').limit(limit).execute()).reverse();
}

/** Hides the conversation's last assistant answer (kept for the record) before a regeneration. */
export async function supersedeLastAnswer(db: Db, workspaceId: string, conversationId: string): Promise<MessageRow | undefined> {
  const last = await db.selectFrom('messages').select(MESSAGE_COLUMNS).where('workspace_id', '=', workspaceId).where('conversation_id', '=', conversationId).where('superseded', '=', false).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  if (!last || last.role !== 'assistant' || last.status === 'streaming') return undefined;
  await db.updateTable('messages').set({ superseded: true, search_indexed_at: null }).where('id', '=', last.id).execute(); // the indexer takes it out of search
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
