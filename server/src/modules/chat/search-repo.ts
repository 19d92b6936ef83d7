/**
 * Queries of conversation search: the indexer's backlog and its writes, and the ranked
 * lookup. The index holds keyed blind terms only (search-index.ts); every lookup is for one
 * person in one workspace, and leaves deleted conversations out.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';

/** A message waiting for the indexer, with what is needed to index it. */
export interface MessageToIndex {
  id: string;
  workspace_id: string;
  user_id: string;
  conversation_id: string;
  content: Buffer;
  superseded: boolean;
}

export interface TitleToIndex {
  id: string;
  workspace_id: string;
  user_id: string;
  title: Buffer;
}

export interface TermRow {
  workspace_id: string;
  user_id: string;
  conversation_id: string;
  message_id: string | null;
  term: string;
  hits: number;
}

/** Up to `limit` finished messages not (or no longer) in the index, oldest first. Read without locks: see lockMessages. */
export function messagesToIndex(db: Db, limit: number): Promise<MessageToIndex[]> {
  return db
    .selectFrom('messages as m')
    .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
    .select(['m.id', 'm.workspace_id', 'c.user_id', 'm.conversation_id', 'm.content', 'm.superseded'])
    .where('m.search_indexed_at', 'is', null)
    .where('m.status', '<>', 'streaming')
    .orderBy('m.created_at')
    .limit(limit)
    .execute();
}

export function titlesToIndex(db: Db, limit: number): Promise<TitleToIndex[]> {
  return db.selectFrom('conversations').select(['id', 'workspace_id', 'user_id', 'title']).where('title_indexed_at', 'is', null).where('title', 'is not', null).orderBy('created_at').limit(limit).execute() as Promise<TitleToIndex[]>;
}

/**
 * Locks the messages among `ids` still waiting for the indexer (skipping those another
 * indexer holds) and answers their content as it is now: the caller indexes only those whose
 * content is still what it read, so a change made meanwhile is indexed by a later run.
 */
export function lockMessages(trx: Db, ids: string[]): Promise<{ id: string; content: Buffer; superseded: boolean }[]> {
  return trx.selectFrom('messages').select(['id', 'content', 'superseded']).where('id', 'in', ids).where('search_indexed_at', 'is', null).forUpdate().skipLocked().execute();
}

export function lockTitles(trx: Db, ids: string[]): Promise<{ id: string; title: Buffer | null }[]> {
  return trx.selectFrom('conversations').select(['id', 'title']).where('id', 'in', ids).where('title_indexed_at', 'is', null).forUpdate().skipLocked().execute();
}

const INSERT_ROWS = 1000;

/** Replaces the index rows of these messages, or of these conversations' titles, and marks them indexed. */
export async function replaceTerms(trx: Db, of: { messages: string[] } | { titles: string[] }, rows: TermRow[], now: Date): Promise<void> {
  if ('messages' in of) {
    if (of.messages.length === 0) return;
    await trx.deleteFrom('conversation_search_terms').where('message_id', 'in', of.messages).execute();
    await trx.updateTable('messages').set({ search_indexed_at: now }).where('id', 'in', of.messages).execute();
  } else {
    if (of.titles.length === 0) return;
    await trx.deleteFrom('conversation_search_terms').where('conversation_id', 'in', of.titles).where('message_id', 'is', null).execute();
    await trx.updateTable('conversations').set({ title_indexed_at: now }).where('id', 'in', of.titles).execute();
  }
  for (let i = 0; i < rows.length; i += INSERT_ROWS) {
    await trx
      .insertInto('conversation_search_terms')
      .values(rows.slice(i, i + INSERT_ROWS))
      .execute();
  }
}

export interface RankedConversation {
  conversation_id: string;
  /** The message whose words match best; null: the title does. */
  message_id: string | null;
  matched: number;
  score: number;
}

/** How much more a word in the title counts than one in a message. */
const TITLE_WEIGHT = 3;
/** BM25's term-frequency saturation. */
const K1 = 1.2;

/**
 * The owner's live conversations holding any of `terms`, best first: by how many of the
 * words they hold, then by BM25 (documents are conversations; a word in the title counts
 * TITLE_WEIGHT times), then by recent activity. Each with the message (or title) that
 * holds the most of the words, for the snippet.
 */
export async function rankConversations(db: Db, owner: { workspaceId: string; userId: string }, terms: string[], limit: number): Promise<RankedConversation[]> {
  const result = await sql<RankedConversation>`
    with hits as (
      select conversation_id, message_id, term, hits from conversation_search_terms
      where workspace_id = ${owner.workspaceId} and user_id = ${owner.userId} and term = any(${`{${terms.join(',')}}`}::bigint[])
    ),
    live as (
      select id, updated_at from conversations
      where id in (select distinct conversation_id from hits) and deleted_at is null
    ),
    documents as (
      select greatest(count(*), 1)::float8 as n from conversations
      where workspace_id = ${owner.workspaceId} and user_id = ${owner.userId} and deleted_at is null
    ),
    per_term as (
      select h.conversation_id, h.term, sum(case when h.message_id is null then ${TITLE_WEIGHT} * h.hits else h.hits end)::float8 as tf
      from hits h join live on live.id = h.conversation_id
      group by h.conversation_id, h.term
    ),
    df as (select term, count(*)::float8 as df from per_term group by term),
    ranked as (
      select p.conversation_id, count(*)::int as matched,
        sum(ln(1 + (d.n - df.df + 0.5) / (df.df + 0.5)) * p.tf * ${K1 + 1} / (p.tf + ${K1}))::float8 as score
      from per_term p join df using (term) cross join documents d
      group by p.conversation_id
    ),
    top as (
      select r.*, live.updated_at from ranked r join live on live.id = r.conversation_id
      order by r.matched desc, r.score desc, live.updated_at desc, r.conversation_id
      limit ${limit}
    ),
    best as (
      select distinct on (h.conversation_id) h.conversation_id, h.message_id
      from hits h join top on top.conversation_id = h.conversation_id
      group by h.conversation_id, h.message_id
      order by h.conversation_id, count(*) desc, (h.message_id is null), sum(h.hits) desc
    )
    select top.conversation_id, best.message_id, top.matched, top.score
    from top join best on best.conversation_id = top.conversation_id
    order by top.matched desc, top.score desc, top.updated_at desc, top.conversation_id
  `.execute(db);
  return result.rows;
}
