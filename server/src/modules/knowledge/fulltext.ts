/**
 * Full-text search over chunks: BM25 ranking, bounded so one query never ranks the whole index.
 *
 * Ranking every chunk that shares any word with a question is what makes naive OR
 * queries slow on large bases: a common word matches most chunks. So the query is
 * planned first, like a "common terms" query:
 *  - the question becomes lexemes (`to_tsvector('english')`: stemmed, stop words gone);
 *  - the rarest lexemes (by their exact document frequency in the bases searched, from
 *    knowledge_term_stats) select the candidates, as many as fit CANDIDATE_BUDGET chunks
 *    together; the commoner ones only rank, where they also weigh least;
 *  - when even the rarest word is in more chunks than that, candidates must contain all
 *    the words, and failing that the rarest one selects up to CANDIDATE_BUDGET;
 *  - text is read for the top K only.
 * Queries written with web-search syntax (quotes, `-word`, `or`) select with
 * `websearch_to_tsquery` as written, and those matches come first; plain questions use "or"
 * and quotes too, so when that finds too little the words rank as usual after them.
 */
import { availableParallelism } from 'node:os';
import { sql } from 'kysely';
import { Bulkhead } from '../../platform/bulkhead.js';
import type { Db } from '../../platform/db/database.js';
import type { ChunkHit } from './repo.js';

/** About how many chunks one query ranks at most (the sum of the selecting words' frequencies). */
export const CANDIDATE_BUDGET = 700;
/** BM25's term-frequency saturation and length normalisation: the usual values. */
const K1 = 1.2;
const B = 0.75;
/** π²/6: ts_rank's normalising constant (see termFrequency). */
const ZETA2 = Math.PI ** 2 / 6;
const MAX_TERMS = 32;

/**
 * Searches one process runs at once when SEARCH_CONCURRENCY is not set: one per core and one
 * in its round trip. Ranking is CPU work in the database; past that, searches only share the
 * CPU and all of them slow down (bench/results/search-postgres.md).
 */
export function defaultSearchConcurrency(): number {
  return availableParallelism() + 1;
}

/** Web-search syntax the person typed on purpose: a quoted phrase, `-exclusion`, or `OR`. */
export function isWebSearchSyntax(query: string): boolean {
  return /"[^"]+"|(^|\s)-[\p{L}\p{N}]|\sor\s/iu.test(query);
}

/**
 * `-n` and `-xz` are command-line options ("what does rsync -n do"), not exclusions: the
 * dash goes, the letters stay words. Excluding a one- or two-letter word is never what
 * someone searching documentation means.
 */
export function optionsAsWords(query: string): string {
  return query.replace(/(^|\s)-([\p{L}\p{N}]{1,2})(?=[\s,.;:!?)]|$)/gu, '$1$2');
}

/** The words excluded with `-word` (letters and digits only). */
export function excludedWords(query: string): string[] {
  return [...query.matchAll(/(?:^|\s)-([\p{L}\p{N}]+)/gu)].map((m) => m[1]!.toLowerCase());
}

/** Letters and digits only, so the words are always valid tsquery lexemes. */
export function queryWords(query: string): string[] {
  return [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])].slice(0, MAX_TERMS);
}

export interface SearchPlan {
  /** tsquery text (config 'simple': the lexemes are already stemmed) selecting candidates. */
  filter: string;
  /** Whether the filter requires every word (even the rarest is too common to select alone). */
  all: boolean;
}

/** The rarest lexemes select candidates, as many as fit the budget together; `df` is each one's chunk count. */
export function planQuery(lexemes: string[], df: (lexeme: string) => number, budget = CANDIDATE_BUDGET): SearchPlan | null {
  if (lexemes.length === 0) return null;
  const byRarity = [...lexemes].sort((a, b) => df(a) - df(b) || (a < b ? -1 : 1));
  if (df(byRarity[0]!) > budget) return { filter: lexemes.join(' & '), all: lexemes.length > 1 };
  const selecting: string[] = [];
  let total = 0;
  for (const lexeme of byRarity) {
    if (total + df(lexeme) > budget) break;
    selecting.push(lexeme);
    total += df(lexeme);
  }
  return { filter: selecting.join(' | '), all: false };
}

/**
 * How often the one-lexeme tsquery `query` occurs in `tsv`, without unnesting the whole vector (a binary search).
 * For a one-word query on an unweighted vector, ts_rank is 0.1 × H(tf) / (π²/6), where
 * H(n) = Σ 1/j² for j ≤ n; π²/6 − H(n) lies within 1/(n + 1/2) to a few parts in a
 * thousand, which gives n back exactly up to tsvector's 255 positions a word (checked in bm25.test.ts);
 * 0 when it does not occur.
 */
export function termFrequency(tsv: ReturnType<typeof sql>, query: ReturnType<typeof sql>) {
  return sql`round(1 / (${ZETA2}::float8 - ts_rank(${tsv}, ${query}, 0)::float8 * ${10 * ZETA2}::float8) - 0.5)`;
}

export class FullTextSearch {
  constructor(
    private readonly db: Db,
    /** Searches of this process that run at once; the others wait their turn. */
    readonly slots: Bulkhead = new Bulkhead(defaultSearchConcurrency()),
  ) {}

  /** Best first, by BM25 over the bases' own word statistics. */
  async search(workspaceId: string, baseIds: string[], query: string, limit: number): Promise<ChunkHit[]> {
    if (baseIds.length === 0) return [];
    return this.slots.run(() => this.rank(workspaceId, baseIds, query, limit));
  }

  private async rank(workspaceId: string, baseIds: string[], asked: string, limit: number): Promise<ChunkHit[]> {
    const query = optionsAsWords(asked);
    const words = queryWords(query);
    const lexemes =
      words.length === 0 ? [] : (await sql<{ lexeme: string }>`select unnest(tsvector_to_array(to_tsvector('english', ${words.join(' ')}))) as lexeme`.execute(this.db)).rows.map((r) => r.lexeme).filter((l) => /^[\p{L}\p{N}]+$/u.test(l));
    if (lexemes.length === 0) return [];
    if (!isWebSearchSyntax(query)) return this.planned(workspaceId, baseIds, lexemes, limit);
    const exact = await this.ranked(workspaceId, baseIds, sql`websearch_to_tsquery('english', ${query.slice(0, 1_000)})`, lexemes, limit);
    if (exact.length >= limit) return exact;
    // Questions use "or" and quotes in plain English too ("should I expose it or put nginx in
    // front"): read literally they often match nothing. What matches as written comes first,
    // then the words rank as usual, still without any word the person excluded with `-word`.
    const excluded = excludedWords(query);
    const more = await this.planned(workspaceId, baseIds, lexemes, limit, excluded.length > 0 ? sql`!! websearch_to_tsquery('english', ${excluded.join(' or ')})` : undefined);
    const seen = new Set(exact.map((hit) => hit.chunk_id));
    return [...exact, ...more.filter((hit) => !seen.has(hit.chunk_id))].slice(0, limit);
  }

  /** The rarest words select candidates, all of them rank; `except` (a tsquery) leaves chunks out. */
  private async planned(workspaceId: string, baseIds: string[], lexemes: string[], limit: number, except?: ReturnType<typeof sql>): Promise<ChunkHit[]> {
    const frequencies = await this.frequencies(baseIds, lexemes);
    const df = (lexeme: string) => frequencies.get(lexeme) ?? 0;
    const plan = planQuery(lexemes, df)!;
    const select = (filter: string) => (except ? sql`(to_tsquery('simple', ${filter}) && ${except})` : sql`to_tsquery('simple', ${filter})`);
    const rows = await this.ranked(workspaceId, baseIds, select(plan.filter), lexemes, limit);
    if (rows.length > 0 || !plan.all) return rows;
    // Every word is common and no chunk has them all: the rarest one selects, ranking sorts.
    const rarest = [...lexemes].sort((a, b) => df(a) - df(b))[0]!;
    return this.ranked(workspaceId, baseIds, select(rarest), lexemes, limit);
  }

  /** How many chunks of the bases contain each lexeme. */
  private async frequencies(baseIds: string[], lexemes: string[]): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('knowledge_term_stats')
      .select(['lexeme', (eb) => eb.fn.sum<string>('chunks').as('df')])
      .where('knowledge_base_id', 'in', baseIds)
      .where('lexeme', 'in', lexemes)
      .groupBy('lexeme')
      .execute();
    return new Map(rows.map((row) => [row.lexeme, Number(row.df)]));
  }

  /**
   * BM25 (Robertson–Spärck Jones weights, saturation K1, length normalisation B) of the
   * candidates `filter` selects, over the query's `lexemes`. Document frequencies, the chunk
   * count and the average length come from knowledge_term_stats, which triggers keep exact
   * as chunks come and go; a chunk's length is its number of distinct words.
   * `materialized` is load-bearing: inlined, the candidates' scan ran again for every query
   * word and each term frequency was computed twice, 2–2.5× the time of the whole query
   * (bench/results/search-postgres.md).
   */
  private async ranked(workspaceId: string, baseIds: string[], filter: ReturnType<typeof sql>, lexemes: string[], limit: number): Promise<ChunkHit[]> {
    if (lexemes.length === 0) return [];
    const bases = sql.join(baseIds);
    const result = await sql<ChunkHit>`
      with stats as (
        select lexeme, sum(chunks)::float8 as df, sum(words)::float8 as words from knowledge_term_stats
        where knowledge_base_id in (${bases}) and lexeme in (${sql.join([...lexemes, ''])})
        group by lexeme
      ), totals as (
        select greatest(coalesce(max(df) filter (where lexeme = ''), 0), 1) as n,
               greatest(coalesce(max(words / nullif(df, 0)) filter (where lexeme = ''), 1), 1) as avgdl
        from stats
      ), weights as materialized (
        select to_tsquery('simple', s.lexeme) as query, ln(1 + (t.n - s.df + 0.5) / (s.df + 0.5)) as idf
        from stats s cross join totals t where s.lexeme <> ''
      ), candidates as materialized (
        select c.id, c.tsv from chunks c
        where c.workspace_id = ${workspaceId} and c.knowledge_base_id in (${bases}) and c.tsv @@ ${filter}
        limit ${CANDIDATE_BUDGET}
      ), pairs as materialized (
        select c.id, length(c.tsv) as len, w.idf, ${termFrequency(sql`c.tsv`, sql`w.query`)} as tf
        from candidates c cross join weights w
      ), top as (
        select p.id, sum(p.idf * p.tf * ${K1 + 1}::float8 / (p.tf + ${K1}::float8 * (1 - ${B}::float8 + ${B}::float8 * p.len / t.avgdl))) as score
        from pairs p
        cross join totals t
        where p.tf > 0
        group by p.id
        order by score desc, p.id
        limit ${limit * 2}
      )
      select c.id as chunk_id, c.document_id, c.knowledge_base_id, d.filename, d.title, c.position, c.heading, c.text, top.score
      from top join chunks c on c.id = top.id join documents d on d.id = c.document_id
      where d.status = 'ready'
      order by top.score desc, c.id
      limit ${limit}`.execute(this.db);
    return result.rows;
  }
}
