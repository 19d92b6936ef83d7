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
 *  - at most CANDIDATE_CAP candidates are ranked, and text is read for the top K only.
 * Queries written with web-search syntax (quotes, `-word`, `or`) go to
 * `websearch_to_tsquery` as written: the person asked for exactly that.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ChunkHit } from './repo.js';

export const COMMON_SHARE = 0.05;
export const CANDIDATE_CAP = 5_000;
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

  /** Best first; score = ts_rank_cd normalised to [0, 1). */
  async search(workspaceId: string, baseIds: string[], query: string, limit: number): Promise<ChunkHit[]> {
    if (baseIds.length === 0) return [];
    if (isWebSearchSyntax(query)) {
      const tsquery = sql`websearch_to_tsquery('english', ${query.slice(0, 1_000)})`;
      return this.ranked(workspaceId, baseIds, tsquery, tsquery, limit);
    }
    const words = queryWords(query);
    if (words.length === 0) return [];
    const lexemes = (await sql<{ lexeme: string }>`select unnest(tsvector_to_array(to_tsvector('english', ${words.join(' ')}))) as lexeme`.execute(this.db)).rows.map((r) => r.lexeme).filter((l) => /^[\p{L}\p{N}]+$/u.test(l));
    const shares = await this.shares();
    const plan = planQuery(lexemes, (l) => shares.get(l) ?? 0);
    if (!plan) return [];
    const rows = await this.ranked(workspaceId, baseIds, sql`to_tsquery('simple', ${plan.filter})`, sql`to_tsquery('simple', ${plan.rank})`, limit);
    if (rows.length > 0 || !plan.filter.includes('&')) return rows;
    // Every word is common and no chunk has them all: the rarest one selects, ranking sorts.
    const rarest = [...lexemes].sort((a, b) => (shares.get(a) ?? 0) - (shares.get(b) ?? 0))[0]!;
    return this.ranked(workspaceId, baseIds, sql`to_tsquery('simple', ${rarest})`, sql`to_tsquery('simple', ${plan.rank})`, limit);
  }

  private async ranked(workspaceId: string, baseIds: string[], filter: ReturnType<typeof sql>, rank: ReturnType<typeof sql>, limit: number): Promise<ChunkHit[]> {
    // Candidates (ids and tsvectors only) → ranked top K → their text and documents.
    const result = await sql<ChunkHit>`
      with candidates as (
        select c.id, c.tsv from chunks c
        where c.workspace_id = ${workspaceId} and c.knowledge_base_id in (${sql.join(baseIds)}) and c.tsv @@ ${filter}
        limit ${CANDIDATE_CAP}
      ), top as (
        select id, ts_rank_cd(tsv, ${rank}, 32) as score from candidates order by score desc, id limit ${limit * 2}
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
