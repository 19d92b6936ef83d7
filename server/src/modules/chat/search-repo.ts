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
export function lockMessages(trx: Db, ids: string[]): Promise<{ id: string; content: Buffer; superseded: boolean; terms: string[] | null; hits: number[] | null }[]> {
  return trx.selectFrom('messages').select(['id', 'content', 'superseded', 'search_terms as terms', 'search_hits as hits']).where('id', 'in', ids).where('search_indexed_at', 'is', null).forNoKeyUpdate().skipLocked().execute();
}

/**
 * As lockMessages, for titles. Both lock FOR NO KEY UPDATE, not FOR UPDATE: writing a
 * conversation's totals takes the foreign key's KEY SHARE lock on it, which FOR UPDATE
 * conflicts with, so a message indexer and a title indexer working on the same conversations
 * deadlocked.
 */
export function lockTitles(trx: Db, ids: string[]): Promise<{ id: string; title: Buffer | null; terms: string[] | null; hits: number[] | null }[]> {
  return trx.selectFrom('conversations').select(['id', 'title', 'title_terms as terms', 'title_hits as hits']).where('id', 'in', ids).where('title_indexed_at', 'is', null).forNoKeyUpdate().skipLocked().execute();
}

/**
 * A PostgreSQL array literal of ids and integers (uuids, bigint terms, counts: none needs
 * quoting), null as NULL. Only for values this module produces, never for user input.
 */
function arrayOf(values: readonly (string | number | null)[]): string {
  // An element that is itself an array literal ("{1,2}") is quoted; it holds no quote or backslash.
  return `{${values.map((v) => (v === null ? 'NULL' : typeof v === 'string' && v.startsWith('{') ? `"${v}"` : String(v))).join(',')}}`;
}

/** How much more a word in the title counts than one in a message. */
export const TITLE_WEIGHT = 3;

/** One message's or title's words, before and after: what the indexer writes. */
export interface Reindexed {
  /** The message's id, or the conversation's for a title. */
  id: string;
  conversation_id: string;
  owner: ConversationOwner;
  old: { terms: string[] | null; hits: number[] | null };
  terms: string[];
  hits: number[];
}

/**
 * Stores the new words of these messages (or these conversations' titles), moves the
 * conversations' totals by the difference, and marks the rows indexed. In the caller's
 * transaction, on rows it holds locked; totals are written in (conversation, term) order,
 * so concurrent indexers lock them in the same order.
 */
export async function replaceTerms(trx: Db, kind: 'messages' | 'titles', rows: Reindexed[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  // Whole arrays as a few parameters (unnest), not thousands of bound values: building and
  // sending those took the event loop away from the answers streaming in the same process.
  const ids = arrayOf(rows.map((r) => r.id));
  const terms = arrayOf(rows.map((r) => arrayOf(r.terms)));
  const hits = arrayOf(rows.map((r) => arrayOf(r.hits)));
  if (kind === 'messages') {
    await sql`update messages m set search_terms = v.terms::bigint[], search_hits = v.hits::smallint[], search_indexed_at = ${now}
      from unnest(${ids}::uuid[], ${terms}::text[], ${hits}::text[]) as v(id, terms, hits) where m.id = v.id`.execute(trx);
  } else {
    await sql`update conversations c set title_terms = v.terms::bigint[], title_hits = v.hits::smallint[], title_indexed_at = ${now}
      from unnest(${ids}::uuid[], ${terms}::text[], ${hits}::text[]) as v(id, terms, hits) where c.id = v.id`.execute(trx);
  }
  const weight = kind === 'titles' ? TITLE_WEIGHT : 1;
  // Each conversation's change of each term's count. Plain loops and per-conversation maps:
  // this runs on the event loop, and a batch is thousands of terms.
  const deltas = new Map<string, { owner: ConversationOwner; tf: Map<string, number> }>();
  for (const row of rows) {
    let conversation = deltas.get(row.conversation_id);
    if (!conversation) deltas.set(row.conversation_id, (conversation = { owner: row.owner, tf: new Map() }));
    const tf = conversation.tf;
    const add = (words: readonly string[], counts: readonly number[], sign: number) => {
      for (let i = 0; i < words.length; i++) {
        const term = String(words[i]);
        tf.set(term, (tf.get(term) ?? 0) + sign * weight * (counts[i] ?? 0));
      }
    };
    add(row.old.terms ?? [], row.old.hits ?? [], -1);
    add(row.terms, row.hits, 1);
  }
  const changes = { workspaces: [] as string[], users: [] as string[], conversations: [] as string[], terms: [] as string[], tf: [] as number[] };
  const shrunk: string[] = [];
  for (const [conversationId, { owner, tf }] of deltas) {
    let shrinks = false;
    for (const [term, n] of tf) {
      if (n === 0) continue;
      changes.workspaces.push(owner.workspace_id);
      changes.users.push(owner.user_id);
      changes.conversations.push(conversationId);
      changes.terms.push(term);
      changes.tf.push(n);
      if (n < 0) shrinks = true;
    }
    if (shrinks) shrunk.push(conversationId);
  }
  if (changes.terms.length > 0) {
    // Written in (conversation, term) order, so concurrent indexers lock totals in the same
    // order. The database sorts: sorting thousands of terms here held the event loop for
    // tens of milliseconds a batch, and answers streaming in the same process waited.
    await sql`insert into conversation_search_totals (workspace_id, user_id, conversation_id, term, tf)
      select * from unnest(${arrayOf(changes.workspaces)}::uuid[], ${arrayOf(changes.users)}::uuid[],
        ${arrayOf(changes.conversations)}::uuid[], ${arrayOf(changes.terms)}::bigint[], ${arrayOf(changes.tf)}::int[]) as v(workspace_id, user_id, conversation_id, term, tf)
      order by v.conversation_id, v.term
      on conflict (conversation_id, term) do update set tf = conversation_search_totals.tf + excluded.tf`.execute(trx);
  }
  // A word no longer anywhere in the conversation leaves its totals.
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
  const termList = arrayOf(terms);
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
      -- The message holding the most of the words (the latest on a tie), unless the title holds more.
      select top.conversation_id, case when coalesce(t.matched, 0) > coalesce(m.matched, 0) then null else m.id end as message_id
      from top
      join conversations c on c.id = top.conversation_id
      left join lateral (
        select count(*) as matched from unnest(c.title_terms) as w(term) where w.term = any(${termList}::bigint[])
      ) t on true
      left join lateral (
        select m.id, (select count(*) from unnest(m.search_terms) as w(term) where w.term = any(${termList}::bigint[])) as matched
        from messages m
        where m.conversation_id = top.conversation_id and m.search_terms && ${termList}::bigint[] and not m.superseded
        order by matched desc, m.seq desc
        limit 1
      ) m on true
    )
    select top.conversation_id, best.message_id, top.matched, top.score
    from top join best on best.conversation_id = top.conversation_id
    order by top.matched desc, top.score desc, top.updated_at desc, top.conversation_id
  `.execute(db);
  return result.rows;
}

/**
 * How many (conversation, word) totals differ from the sums of the conversation's message
 * and title arrays (a title counts TITLE_WEIGHT): 0 when the index agrees with itself. The
 * tests and the fault suite check it after concurrent and interrupted indexing.
 */
export async function totalsDrift(db: Db): Promise<number> {
  const result = await sql<{ n: number }>`
    with words as (
      select m.conversation_id, w.term, w.hits from messages m, unnest(m.search_terms, m.search_hits) as w(term, hits)
      union all
      select c.id, w.term, ${TITLE_WEIGHT} * w.hits from conversations c, unnest(c.title_terms, c.title_hits) as w(term, hits)
    ),
    sums as (select conversation_id, term, sum(hits)::int as tf from words group by conversation_id, term)
    select count(*)::int as n from sums s
    full join conversation_search_totals t on t.conversation_id = s.conversation_id and t.term = s.term
    where s.tf is distinct from t.tf`.execute(db);
  return Number(result.rows[0]!.n);
}
