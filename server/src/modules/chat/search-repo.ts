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

/** A word of one message (or title, message_id null) of a conversation. */
export interface TermRow {
  conversation_id: string;
  message_id: string | null;
  term: string;
  hits: number;
}

/** Whose a conversation is: the totals carry it, so a search reads one person's rows only. */
export interface ConversationOwner {
  workspace_id: string;
  user_id: string;
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

/** How much more a word in the title counts than one in a message. */
export const TITLE_WEIGHT = 3;
const weight = (row: { message_id: string | null; hits: number }) => (row.message_id === null ? TITLE_WEIGHT : 1) * row.hits;

/**
 * Replaces the index rows of these messages, or of these conversations' titles, moves the
 * conversations' totals by the difference, and marks the rows indexed. In the caller's
 * transaction; totals are written in (conversation, term) order, so concurrent indexers
 * lock them in the same order.
 */
export async function replaceTerms(trx: Db, of: { messages: string[] } | { titles: string[] }, rows: TermRow[], owners: ReadonlyMap<string, ConversationOwner>, now: Date): Promise<void> {
  let old: TermRow[];
  if ('messages' in of) {
    if (of.messages.length === 0) return;
    old = await trx.deleteFrom('conversation_search_terms').where('message_id', 'in', of.messages).returning(['conversation_id', 'message_id', 'term', 'hits']).execute();
    await trx.updateTable('messages').set({ search_indexed_at: now }).where('id', 'in', of.messages).execute();
  } else {
    if (of.titles.length === 0) return;
    old = await trx.deleteFrom('conversation_search_terms').where('conversation_id', 'in', of.titles).where('message_id', 'is', null).returning(['conversation_id', 'message_id', 'term', 'hits']).execute();
    await trx.updateTable('conversations').set({ title_indexed_at: now }).where('id', 'in', of.titles).execute();
  }
  for (let i = 0; i < rows.length; i += INSERT_ROWS) {
    await trx
      .insertInto('conversation_search_terms')
      .values(rows.slice(i, i + INSERT_ROWS))
      .execute();
  }
  const deltas = new Map<string, { conversation_id: string; term: string; tf: number }>();
  const add = (row: TermRow, sign: number) => {
    const term = String(row.term);
    const key = `${row.conversation_id}:${term}`;
    const entry = deltas.get(key) ?? { conversation_id: row.conversation_id, term, tf: 0 };
    entry.tf += sign * weight(row);
    deltas.set(key, entry);
  };
  for (const row of old) add(row, -1);
  for (const row of rows) add(row, 1);
  const changes = [...deltas.values()]
    .filter((delta) => delta.tf !== 0)
    .sort((a, b) => (a.conversation_id !== b.conversation_id ? (a.conversation_id < b.conversation_id ? -1 : 1) : BigInt(a.term) < BigInt(b.term) ? -1 : 1))
    .map((delta) => ({ ...owners.get(delta.conversation_id)!, ...delta }));
  for (let i = 0; i < changes.length; i += INSERT_ROWS) {
    await trx
      .insertInto('conversation_search_totals')
      .values(changes.slice(i, i + INSERT_ROWS))
      .onConflict((oc) => oc.columns(['conversation_id', 'term']).doUpdateSet({ tf: sql<number>`conversation_search_totals.tf + excluded.tf` }))
      .execute();
  }
  // A word no longer anywhere in the conversation leaves its totals.
  const shrunk = [...new Set(changes.filter((change) => change.tf < 0).map((change) => change.conversation_id))];
  if (shrunk.length > 0) await trx.deleteFrom('conversation_search_totals').where('conversation_id', 'in', shrunk).where('tf', '<=', 0).execute();
}

export interface RankedConversation {
  conversation_id: string;
  /** The message whose words match best; null: the title does. */
  message_id: string | null;
  matched: number;
  score: number;
}

/** BM25's term-frequency saturation. */
const K1 = 1.2;

/**
 * The owner's live conversations holding any of `terms`, best first: by how many of the
 * words they hold, then by BM25 over the conversation totals (a word in the title counts
 * TITLE_WEIGHT times), then by recent activity. Each with the message (or title) that
 * holds the most of the words, for the snippet.
 */
export async function rankConversations(db: Db, owner: { workspaceId: string; userId: string }, terms: string[], limit: number): Promise<RankedConversation[]> {
  const termList = `{${terms.join(',')}}`;
  // found and df are small and read once each: no join of two large intermediate results,
  // whose sizes the planner cannot estimate for a term it has no statistics on.
  const result = await sql<RankedConversation>`
    with found as (
      select t.conversation_id, t.term, t.tf::float8 as tf, c.updated_at
      from conversation_search_totals t join conversations c on c.id = t.conversation_id
      where t.workspace_id = ${owner.workspaceId} and t.user_id = ${owner.userId} and t.term = any(${termList}::bigint[]) and c.deleted_at is null
    ),
    df as (
      select term, ln(1 + (n - count(*) + 0.5) / (count(*) + 0.5)) as idf
      from found, (
        select greatest(count(*), 1)::float8 as n from conversations
        where workspace_id = ${owner.workspaceId} and user_id = ${owner.userId} and deleted_at is null
      ) documents
      group by term, n
    ),
    top as (
      select f.conversation_id, max(f.updated_at) as updated_at, count(*)::int as matched,
        sum(df.idf * f.tf * ${K1 + 1} / (f.tf + ${K1}))::float8 as score
      from found f join df on df.term = f.term
      group by f.conversation_id
      order by matched desc, score desc, updated_at desc, f.conversation_id
      limit ${limit}
    ),
    best as (
      select distinct on (s.conversation_id) s.conversation_id, s.message_id
      from top join conversation_search_terms s on s.conversation_id = top.conversation_id and s.term = any(${termList}::bigint[])
      group by s.conversation_id, s.message_id
      order by s.conversation_id, count(*) desc, (s.message_id is null), sum(s.hits) desc
    )
    select top.conversation_id, best.message_id, top.matched, top.score
    from top join best on best.conversation_id = top.conversation_id
    order by top.matched desc, top.score desc, top.updated_at desc, top.conversation_id
  `.execute(db);
  return result.rows;
}
