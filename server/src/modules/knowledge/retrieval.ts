/**
 * Retrieval for agents and the search endpoint: PostgreSQL full-text search over the
 * chunks of the given bases, strictly inside the caller's workspace, fused by reciprocal
 * rank fusion with vector search where a base names an embedding model and the database
 * has pgvector (a provider failure at query time falls back to full text), then optionally
 * reranked by the model a base names (reranking.ts; a failure keeps the order). Results are cached
 * for a minute under a key made of the bases' versions and the query, so any change to
 * a base (a document added, processed or deleted) makes new keys at once. Scores are
 * relative to the best hit of the query (full-text ranks have no absolute scale), so an
 * agent's `minScore` reads as "at least this share of the best match".
 */
import { createHash } from 'node:crypto';
import { Bulkhead } from '../../platform/bulkhead.js';
import type { Db } from '../../platform/db/database.js';
import type { Passage } from '../../platform/llm/types.js';
import type { JsonCache } from '../../platform/store/cache.js';
import type { RetrievalQuery, Retriever } from '../chat/retriever.js';
import type { Logger } from 'pino';
import { reciprocalRankFusion, type ChunkEmbeddings } from './embeddings.js';
import { RERANK_CANDIDATES, type Reranker, type RerankTarget } from './reranking.js';
import { withNeighbours, type ContextPassage } from './context.js';
import { FullTextSearch } from './fulltext.js';
import { baseVersions, chunkHits, workspaceBaseIds, type BaseVersion, type ChunkHit } from './repo.js';

export interface SearchHit {
  documentId: string;
  knowledgeBaseId: string;
  chunkId: string;
  filename: string;
  title: string | null;
  position: number;
  heading: string | null;
  text: string;
  score: number;
}

/**
 * The reranking model of a search: the first of its bases (by id, so it is the same on
 * every instance) that names one; a search over several bases is reranked once, as a whole.
 */
function rerankTarget(workspaceId: string, versions: BaseVersion[]): RerankTarget | null {
  const base = [...versions].sort((a, b) => (a.id < b.id ? -1 : 1)).find((v) => v.rerank_connection_id && v.rerank_model);
  return base ? { workspaceId, connectionId: base.rerank_connection_id!, model: base.rerank_model! } : null;
}

/** Neither rank has a fixed scale: scores are relative to the best hit (1.0). */
function relative(rows: SearchHit[], minScore: number): SearchHit[] {
  const best = Math.max(...rows.map((hit) => hit.score), Number.MIN_VALUE);
  return rows.map((hit) => ({ ...hit, score: Number((hit.score / best).toFixed(4)) })).filter((hit) => hit.score >= minScore);
}

function toHit(row: ChunkHit): SearchHit {
  return { documentId: row.document_id, knowledgeBaseId: row.knowledge_base_id, chunkId: row.chunk_id, filename: row.filename, title: row.title, position: row.position, heading: row.heading, text: row.text, score: Number(row.score) };
}

export class KnowledgeRetrieval implements Retriever {
  private readonly fullText: FullTextSearch;

  constructor(
    private readonly db: Db,
    private readonly cache: JsonCache<SearchHit[]>,
    private readonly embeddings: ChunkEmbeddings | null = null,
    private readonly logger: Logger | null = null,
    private readonly reranker: Reranker | null = null,
    /** Which model reranks a search over these bases (the evaluation overrides it). */
    private readonly rerankTargetOf: (workspaceId: string, bases: BaseVersion[]) => RerankTarget | null = rerankTarget,
    /** Full-text searches this process runs at once (SEARCH_CONCURRENCY), or the bulkhead that bounds them; default: cores + 1. */
    searchSlots?: number | Bulkhead,
  ) {
    this.fullText = new FullTextSearch(db, typeof searchSlots === 'number' ? new Bulkhead(searchSlots) : searchSlots);
  }

  /** Full-text searches running and waiting in this process. */
  get searchLoad(): { active: number; queued: number } {
    return { active: this.fullText.slots.active, queued: this.fullText.slots.queued };
  }

  /** The ids among `ids` that name bases of the workspace. */
  async existingBases(workspaceId: string, ids: string[]): Promise<string[]> {
    return workspaceBaseIds(this.db, workspaceId, [...new Set(ids)]);
  }

  /** Ranked chunks of the workspace's bases among `baseIds` (others are ignored). */
  async hits(workspaceId: string, baseIds: string[], query: string, topK: number, minScore = 0): Promise<SearchHit[]> {
    const versions = await baseVersions(this.db, workspaceId, [...new Set(baseIds)]);
    if (versions.length === 0 || query.trim() === '') return [];
    const scope = versions.map((v) => `${v.id}@${v.version}@${v.rerank_connection_id ?? ''}/${v.rerank_model ?? ''}`).sort();
    const key = createHash('sha256')
      .update(JSON.stringify([workspaceId, scope, query, topK, minScore]))
      .digest('hex');
    const rerank = this.reranker ? this.rerankTargetOf(workspaceId, versions) : null;
    // Results whose reranking failed are answered but not cached: the next search tries again.
    let unranked: SearchHit[] | null = null;
    const cached = await this.cache.getOrLoad(key, async () => {
      const candidates = rerank ? Math.max(topK, RERANK_CANDIDATES) : topK;
      const vectorLists = await this.vectorLists(workspaceId, versions, query, candidates * 2);
      const fullText = (
        await this.fullText.search(
          workspaceId,
          versions.map((v) => v.id),
          query,
          vectorLists.length > 0 ? candidates * 2 : candidates,
        )
      ).map(toHit);
      let rows = vectorLists.length > 0 ? await this.fuse(workspaceId, fullText, vectorLists, candidates) : fullText;
      if (rerank) {
        const reranked = await this.rerank(rerank, query, rows);
        if (!reranked) {
          unranked = relative(rows.slice(0, topK), minScore);
          return null;
        }
        rows = reranked;
      }
      return relative(rows.slice(0, topK), minScore);
    });
    return cached ?? unranked ?? [];
  }

  /** `hits` in the reranking model's order with its scores; null when the provider failed. */
  private async rerank(target: RerankTarget, query: string, hits: SearchHit[]): Promise<SearchHit[] | null> {
    if (hits.length < 2) return hits;
    try {
      const { scores } = await this.reranker!.rerank(
        target,
        query,
        hits.map((hit) => (hit.heading ? `${hit.heading}\n${hit.text}` : hit.text)),
      );
      return hits
        .map((hit, i) => ({ hit: { ...hit, score: scores[i]! }, i }))
        .sort((a, b) => b.hit.score - a.hit.score || a.i - b.i)
        .map(({ hit }) => hit);
    } catch (error) {
      this.logger?.warn({ err: { message: (error as Error).message }, model: target.model }, 'reranking failed; results in their search order');
      return null;
    }
  }

  /** Chunk ids nearest to the query, one list per embedding model among the bases. */
  private async vectorLists(workspaceId: string, bases: BaseVersion[], query: string, limit: number): Promise<string[][]> {
    const embedded = bases.filter((b) => b.embedding_connection_id && b.embedding_model);
    if (!this.embeddings || embedded.length === 0 || !(await this.embeddings.available())) return [];
    const groups = new Map<string, { connectionId: string; model: string; baseIds: string[] }>();
    for (const base of embedded) {
      const key = `${base.embedding_connection_id}\n${base.embedding_model}`;
      const group = groups.get(key) ?? { connectionId: base.embedding_connection_id!, model: base.embedding_model!, baseIds: [] };
      group.baseIds.push(base.id);
      groups.set(key, group);
    }
    const lists: string[][] = [];
    for (const group of groups.values()) {
      try {
        const [vector] = await this.embeddings.embed({ workspaceId, connectionId: group.connectionId, model: group.model }, [query.slice(0, 8_000)]);
        lists.push((await this.embeddings.nearest(workspaceId, group.baseIds, group.model, vector!, limit)).map((hit) => hit.chunkId));
      } catch (error) {
        // Search still answers from full text; the provider's trouble is logged once per query.
        this.logger?.warn({ err: { message: (error as Error).message }, model: group.model }, 'query embedding failed; full-text results only');
      }
    }
    return lists;
  }

  /** Reciprocal rank fusion of the full-text list and the vector lists. */
  private async fuse(workspaceId: string, fullText: SearchHit[], vectorLists: string[][], topK: number): Promise<SearchHit[]> {
    const fused = [...reciprocalRankFusion([fullText.map((h) => h.chunkId), ...vectorLists])].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topK);
    const known = new Map(fullText.map((hit) => [hit.chunkId, hit]));
    const missing = fused.map(([id]) => id).filter((id) => !known.has(id));
    for (const row of await chunkHits(this.db, workspaceId, missing)) known.set(row.chunk_id, toHit({ ...row, score: 0 }));
    return fused.flatMap(([id, score]) => {
      const hit = known.get(id);
      return hit ? [{ ...hit, score }] : [];
    });
  }

  /** The hits as an answer reads them: each with its neighbouring chunks, merged where they touch (context.ts). */
  async passages(workspaceId: string, baseIds: string[], query: string, topK: number, minScore = 0): Promise<ContextPassage<SearchHit>[]> {
    return withNeighbours(this.db, workspaceId, await this.hits(workspaceId, baseIds, query, topK, minScore));
  }

  /**
   * The chat port: passages with citation-ready sources. A source is named by the document's
   * filename (what people uploaded and see in the list), never by its metadata title: a
   * printed page's PDF is titled after the page ("policy.html"), not after the file.
   */
  async search(query: RetrievalQuery): Promise<Passage[]> {
    const hits = await this.passages(query.workspaceId, query.knowledgeBaseIds, query.query, query.topK, query.minScore);
    return hits.map((hit, index) => ({
      id: String(index + 1),
      source: `${hit.filename}${hit.heading ? ` › ${hit.heading}` : ''} (${hit.from === hit.to ? `chunk ${hit.position + 1}` : `chunks ${hit.from + 1}–${hit.to + 1}`})`,
      text: hit.text,
      score: hit.score,
      origin: { documentId: hit.documentId, knowledgeBaseId: hit.knowledgeBaseId, filename: hit.filename, heading: hit.heading, chunk: hit.position + 1 },
    }));
  }
}
