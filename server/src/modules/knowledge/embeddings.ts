/**
 * Chunk embeddings for vector search, where the database has pgvector (the
 * `chunk_embeddings` table of migration 0013 exists) and a base names an embedding model.
 * Vectors are computed by the base's provider connection (OpenAI-compatible
 * `/embeddings`) in batches, stored beside the chunks, and searched by cosine distance
 * within the caller's workspace and bases. Vectors of different models never compare.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import { EMBED_BATCH, ProviderError } from '../../platform/llm/types.js';
import type { ProviderResolver } from '../providers/resolver.js';

export interface EmbeddingTarget {
  workspaceId: string;
  connectionId: string;
  model: string;
}

export interface VectorHit {
  chunkId: string;
  distance: number;
}

/** pgvector's text form; the values come from the provider, checked finite. */
export const toVectorText = (vector: number[]) => `[${vector.join(',')}]`;

/** The vector sizes with an HNSW index (migration 0029), and the cast its expression uses. */
const HNSW_CASTS = new Map([
  [384, sql`vector(384)`],
  [512, sql`vector(512)`],
  [768, sql`vector(768)`],
  [1024, sql`vector(1024)`],
  [1536, sql`vector(1536)`],
]);

export class ChunkEmbeddings {
  private present: Promise<boolean> | null = null;

  constructor(
    private readonly db: Db,
    private readonly resolver: ProviderResolver,
  ) {}

  /** True when this database can store and search vectors (checked once). */
  available(): Promise<boolean> {
    this.present ??= sql<{ t: string | null }>`select to_regclass('chunk_embeddings')::text as t`.execute(this.db).then((r) => r.rows[0]?.t != null);
    return this.present;
  }

  /** One vector per text, in order; throws ProviderError (the job is retried) or not_found. */
  async embed(target: EmbeddingTarget, texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const provider = await this.resolver.providerFor(target.workspaceId, target.connectionId);
    if (!provider.embed) throw new ProviderError('provider_bad_request', `The ${provider.kind} connection cannot compute embeddings.`);
    const vectors: number[][] = [];
    for (let i = 0; i < texts.length; i += EMBED_BATCH) {
      vectors.push(...(await provider.embed({ model: target.model, input: texts.slice(i, i + EMBED_BATCH), ...(signal ? { signal } : {}) })));
    }
    return vectors;
  }

  /**
   * Nearest chunks of the given bases (all using `model`), closest first. Vectors of a size
   * with an HNSW index (migration 0029) go through it, scanned iteratively so the filter on
   * workspace, bases and model still yields `limit` results when they are a small share of
   * the index; other sizes are compared exactly.
   */
  async nearest(workspaceId: string, baseIds: string[], model: string, vector: number[], limit: number): Promise<VectorHit[]> {
    if (baseIds.length === 0) return [];
    const query = toVectorText(vector);
    const cast = HNSW_CASTS.get(vector.length);
    if (cast) {
      return this.db.transaction().execute(async (trx) => {
        await sql`select set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', ${String(Math.max(40, limit * 2))}, true)`.execute(trx);
        // relaxed_order may return a few neighbours out of order: sorted again here.
        const rows = await sql<{ chunk_id: string; distance: number }>`
          with nearest as materialized (
            select chunk_id, embedding::${cast} <=> ${query}::${cast} as distance
            from chunk_embeddings
            where vector_dims(embedding) = ${vector.length} and workspace_id = ${workspaceId} and knowledge_base_id in (${sql.join(baseIds)}) and model = ${model}
            order by embedding::${cast} <=> ${query}::${cast}
            limit ${limit}
          )
          select chunk_id, distance from nearest order by distance, chunk_id`.execute(trx);
        return rows.rows.map((r) => ({ chunkId: r.chunk_id, distance: Number(r.distance) }));
      });
    }
    const rows = await sql<{ chunk_id: string; distance: number }>`
      select chunk_id, embedding <=> ${query}::vector as distance
      from chunk_embeddings
      where workspace_id = ${workspaceId} and knowledge_base_id in (${sql.join(baseIds)}) and model = ${model}
        and vector_dims(embedding) = ${vector.length}
      order by distance, chunk_id
      limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ chunkId: r.chunk_id, distance: Number(r.distance) }));
  }

  /** Chunks of a base that have no vector for `model` yet (for the backfill after a model change). */
  async missing(baseId: string, model: string, limit: number): Promise<{ id: string; text: string }[]> {
    const rows = await sql<{ id: string; text: string }>`
      select c.id, coalesce(c.heading || E'\n', '') || c.text as text from chunks c
      where c.knowledge_base_id = ${baseId}
        and not exists (select 1 from chunk_embeddings e where e.chunk_id = c.id and e.model = ${model})
      order by c.id limit ${limit}`.execute(this.db);
    return rows.rows;
  }

  async store(db: Db, rows: { chunkId: string; knowledgeBaseId: string; workspaceId: string; model: string; vector: number[] }[]): Promise<void> {
    if (rows.length === 0) return;
    await db
      .insertInto('chunk_embeddings')
      .values(rows.map((r) => ({ chunk_id: r.chunkId, knowledge_base_id: r.knowledgeBaseId, workspace_id: r.workspaceId, model: r.model, embedding: toVectorText(r.vector) })))
      .onConflict((oc) => oc.column('chunk_id').doUpdateSet((eb) => ({ model: eb.ref('excluded.model'), embedding: eb.ref('excluded.embedding') })))
      .execute();
  }

  /** Drops a base's vectors of other models (after its embedding model changed). */
  async dropOtherModels(baseId: string, model: string | null): Promise<void> {
    if (!(await this.available())) return;
    let query = this.db.deleteFrom('chunk_embeddings').where('knowledge_base_id', '=', baseId);
    if (model !== null) query = query.where('model', '!=', model);
    await query.execute();
  }
}

/** Reciprocal rank fusion (Cormack et al., 2009): Σ 1 / (k + rank) over the lists an item is in. */
export function reciprocalRankFusion(lists: string[][], k = 60): Map<string, number> {
  const scores = new Map<string, number>();
  for (const list of lists) list.forEach((id, rank) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + rank + 1)));
  return scores;
}
