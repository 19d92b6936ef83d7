/**
 * Full-text search over chunks, bounded so one query never ranks the whole index.
 *
 * Ranking every chunk that shares any word with a question is what makes naive OR
 * queries slow on large bases: a common word matches most chunks. So the query is
 * planned first, like a "common terms" query:
 *  - the question becomes lexemes (`to_tsvector('english')`: stemmed, stop words gone);
 *  - lexemes that occur in more than COMMON_SHARE of all chunks (PostgreSQL's own column
 *    statistics, `pg_stats.most_common_elems` of `chunks.tsv`, read once a few minutes)
 *    do not select candidates — the rarer words do — but still count in the ranking;
 *  - when every word is common, candidates must contain all of them;
 *  - at most CANDIDATE_CAP candidates are ranked (BM25, see `ranked`), and text is read for
 *    the top K only.
 * Queries written with web-search syntax (quotes, `-word`, `or`) go to
 * `websearch_to_tsquery` as written: the person asked for exactly that.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ChunkHit } from './repo.js';

export const COMMON_SHARE = 0.05;
export const CANDIDATE_CAP = 5_000;
/** BM25's term-frequency saturation and length normalisation: the usual values. */
const K1 = 1.2;
const B = 0.75;
const STATS_TTL_MS = 5 * 60_000;
const MAX_TERMS = 32;

/** Web-search syntax the person typed on purpose: a quoted phrase, `-exclusion`, or `OR`. */
export function isWebSearchSyntax(query: string): boolean {
  return /"[^"]+"|(^|\s)-[\p{L}\p{N}]|\sor\s/iu.test(query);
}

/** Letters and digits only, so the words are always valid tsquery lexemes. */
export function queryWords(query: string): string[] {
  return [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])].slice(0, MAX_TERMS);
}

export interface SearchPlan {
  /** tsquery text (config 'simple': the lexemes are already stemmed) selecting candidates. */
  filter: string;
  /** tsquery text ranking the candidates: every lexeme, OR-ed. */
  rank: string;
}

/** Splits lexemes into rare (select candidates) and common (rank only) by their share of chunks. */
export function planQuery(lexemes: string[], share: (lexeme: string) => number): SearchPlan | null {
  if (lexemes.length === 0) return null;
  const rare = lexemes.filter((l) => share(l) <= COMMON_SHARE);
  return { filter: rare.length > 0 ? rare.join(' | ') : lexemes.join(' & '), rank: lexemes.join(' | ') };
}

export class FullTextSearch {
  private stats: { at: number; shares: Map<string, number> } | null = null;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** Best first, by BM25 over the bases' own word statistics. */
  async search(workspaceId: string, baseIds: string[], query: string, limit: number): Promise<ChunkHit[]> {
    if (baseIds.length === 0) return [];
    const words = queryWords(query);
    const lexemes =
      words.length === 0 ? [] : (await sql<{ lexeme: string }>`select unnest(tsvector_to_array(to_tsvector('english', ${words.join(' ')}))) as lexeme`.execute(this.db)).rows.map((r) => r.lexeme).filter((l) => /^[\p{L}\p{N}]+$/u.test(l));
    if (isWebSearchSyntax(query)) {
      const tsquery = sql`websearch_to_tsquery('english', ${query.slice(0, 1_000)})`;
      return this.ranked(workspaceId, baseIds, tsquery, lexemes, limit);
    }
    const shares = await this.shares();
    const plan = planQuery(lexemes, (l) => shares.get(l) ?? 0);
    if (!plan) return [];
    const rows = await this.ranked(workspaceId, baseIds, sql`to_tsquery('simple', ${plan.filter})`, lexemes, limit);
    if (rows.length > 0 || !plan.filter.includes('&')) return rows;
    // Every word is common and no chunk has them all: the rarest one selects, ranking sorts.
    const rarest = [...lexemes].sort((a, b) => (shares.get(a) ?? 0) - (shares.get(b) ?? 0))[0]!;
    return this.ranked(workspaceId, baseIds, sql`to_tsquery('simple', ${rarest})`, lexemes, limit);
  }

  /**
   * BM25 (Robertson–Spärck Jones weights, saturation K1, length normalisation B) of the
   * candidates `filter` selects, over the query's `lexemes`. Document frequencies, the chunk
   * count and the average length come from knowledge_term_stats, which triggers keep exact
   * as chunks come and go; a chunk's length is its number of distinct words.
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
      ), weights as (
        select s.lexeme, ln(1 + (t.n - s.df + 0.5) / (s.df + 0.5)) as idf from stats s cross join totals t where s.lexeme <> ''
      ), candidates as (
        select c.id, c.tsv from chunks c
        where c.workspace_id = ${workspaceId} and c.knowledge_base_id in (${bases}) and c.tsv @@ ${filter}
        limit ${CANDIDATE_CAP}
      ), top as (
        select c.id, sum(w.idf * u.tf * ${K1 + 1}::float8 / (u.tf + ${K1}::float8 * (1 - ${B}::float8 + ${B}::float8 * length(c.tsv) / t.avgdl))) as score
        from candidates c
        cross join totals t
        cross join lateral (select x.lexeme, coalesce(array_length(x.positions, 1), 1) as tf from unnest(c.tsv) x) u
        join weights w on w.lexeme = u.lexeme
        group by c.id
        order by score desc, c.id
        limit ${limit * 2}
      )
      select c.id as chunk_id, c.document_id, c.knowledge_base_id, d.filename, d.title, c.position, c.heading, c.text, top.score
      from top join chunks c on c.id = top.id join documents d on d.id = c.document_id
      where d.status = 'ready'
      order by top.score desc, c.id
      limit ${limit}`.execute(this.db);
    return result.rows;
  }

  /** Share of chunks containing each common lexeme, from the planner's statistics (empty before ANALYZE). */
  private async shares(): Promise<Map<string, number>> {
    if (this.stats && this.now() - this.stats.at < STATS_TTL_MS) return this.stats.shares;
    const row = (
      await sql<{ elems: string[] | null; freqs: number[] | null }>`
        select most_common_elems::text::text[] as elems, most_common_elem_freqs as freqs
        from pg_stats where schemaname = current_schema() and tablename = 'chunks' and attname = 'tsv'`.execute(this.db)
    ).rows[0];
    const shares = new Map<string, number>();
    row?.elems?.forEach((elem, i) => shares.set(elem, Number(row.freqs?.[i] ?? 0)));
    this.stats = { at: this.now(), shares };
    return shares;
  }
}
