/**
 * Retrieval for agents and the search endpoint: PostgreSQL full-text search over the
 * chunks of the given bases, strictly inside the caller's workspace. Results are cached
 * for a minute under a key made of the bases' versions and the query, so any change to
 * a base (a document added, processed or deleted) makes new keys at once. Scores are
 * relative to the best hit of the query (full-text ranks have no absolute scale), so an
 * agent's `minScore` reads as "at least this share of the best match".
 */
import { createHash } from 'node:crypto';
import type { Db } from '../../platform/db/database.js';
import type { Passage } from '../../platform/llm/types.js';
import type { JsonCache } from '../../platform/store/cache.js';
import type { RetrievalQuery, Retriever } from '../chat/retriever.js';
import { baseVersions, searchChunks, type ChunkHit } from './repo.js';

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

function toHit(row: ChunkHit): SearchHit {
  return { documentId: row.document_id, knowledgeBaseId: row.knowledge_base_id, chunkId: row.chunk_id, filename: row.filename, title: row.title, position: row.position, heading: row.heading, text: row.text, score: Number(row.score) };
}

export class KnowledgeRetrieval implements Retriever {
  constructor(
    private readonly db: Db,
    private readonly cache: JsonCache<SearchHit[]>,
  ) {}

  /** The ids among `ids` that name bases of the workspace. */
  async existingBases(workspaceId: string, ids: string[]): Promise<string[]> {
    return (await baseVersions(this.db, workspaceId, [...new Set(ids)])).map((v) => v.id);
  }

  /** Ranked chunks of the workspace's bases among `baseIds` (others are ignored). */
  async hits(workspaceId: string, baseIds: string[], query: string, topK: number, minScore = 0): Promise<SearchHit[]> {
    const versions = await baseVersions(this.db, workspaceId, [...new Set(baseIds)]);
    if (versions.length === 0 || query.trim() === '') return [];
    const scope = versions.map((v) => `${v.id}@${v.version}`).sort();
    const key = createHash('sha256').update(JSON.stringify([workspaceId, scope, query, topK, minScore])).digest('hex');
    const cached = await this.cache.getOrLoad(key, async () => {
      const rows = (await searchChunks(this.db, workspaceId, versions.map((v) => v.id), query, topK)).map(toHit);
      // Full-text ranks have no fixed scale: scores are relative to the best hit (1.0).
      const best = Math.max(...rows.map((hit) => hit.score), Number.MIN_VALUE);
      return rows.map((hit) => ({ ...hit, score: Number((hit.score / best).toFixed(4)) })).filter((hit) => hit.score >= minScore);
    });
    return cached ?? [];
  }

  /** The chat port: passages with citation-ready sources. */
  async search(query: RetrievalQuery): Promise<Passage[]> {
    const hits = await this.hits(query.workspaceId, query.knowledgeBaseIds, query.query, query.topK, query.minScore);
    return hits.map((hit, index) => ({
      id: String(index + 1),
      source: `${hit.title ?? hit.filename}${hit.heading ? ` › ${hit.heading}` : ''} (chunk ${hit.position + 1})`,
      text: hit.text,
      score: hit.score,
    }));
  }
}
