/**
 * Queries on knowledge bases, documents, their encrypted originals and chunks. Every
 * query a request makes filters by workspace; the ingestion worker works by document id
 * (the job carries no caller) and says so in the function name.
 */
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { ChunksTable, DocumentsTable, KnowledgeBasesTable } from '../../platform/db/schema/index.js';
import type { DocumentStatus } from '../../domain/knowledge.js';

export type BaseRow = Selectable<KnowledgeBasesTable>;
export type DocumentRow = Selectable<DocumentsTable>;
export type ChunkRow = Selectable<ChunksTable>;

const bump = (db: Db, id: string, now: Date) =>
  db
    .updateTable('knowledge_bases')
    .set({ version: sql`version + 1`, updated_at: now })
    .where('id', '=', id)
    .execute();

/** A new version of the base: its cached search results are not used again (retrieval.ts keys them by version). */
export async function bumpBaseVersion(db: Db, id: string, now: Date): Promise<void> {
  await bump(db, id, now);
}

export async function insertBase(db: Db, row: Omit<BaseRow, 'version' | 'conversation_id'>): Promise<void> {
  await db.insertInto('knowledge_bases').values(row).execute();
}

// A conversation's base of attachments (conversation_id set) is its owner's alone: the workspace's lists and routes leave it out.
export function listBases(db: Db, workspaceId: string): Promise<BaseRow[]> {
  return db.selectFrom('knowledge_bases').selectAll().where('workspace_id', '=', workspaceId).where('conversation_id', 'is', null).orderBy('created_at').limit(500).execute();
}

export function findBase(db: Db, workspaceId: string, id: string): Promise<BaseRow | undefined> {
  return db.selectFrom('knowledge_bases').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).where('conversation_id', 'is', null).executeTakeFirst();
}

/** Which of `ids` are workspace bases an agent may use (never a conversation's attachments). */
export async function workspaceBaseIds(db: Db, workspaceId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return (await db.selectFrom('knowledge_bases').select('id').where('workspace_id', '=', workspaceId).where('id', 'in', ids).where('conversation_id', 'is', null).execute()).map((row) => row.id);
}

export async function updateBase(
  db: Db,
  workspaceId: string,
  id: string,
  changes: { name?: string; description?: string; embedding_connection_id?: string | null; embedding_model?: string | null; rerank_connection_id?: string | null; rerank_model?: string | null },
  now: Date,
): Promise<void> {
  await db
    .updateTable('knowledge_bases')
    .set({ ...changes, version: sql`version + 1`, updated_at: now })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

/** Deletes the base; documents, originals and chunks go with it (cascade). */
export async function deleteBase(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('knowledge_bases').where('workspace_id', '=', workspaceId).where('id', '=', id).where('conversation_id', 'is', null).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export interface BaseVersion {
  id: string;
  version: string;
  embedding_connection_id: string | null;
  embedding_model: string | null;
  rerank_connection_id: string | null;
  rerank_model: string | null;
}

/** Versions (and embedding and rerank models) of the given bases of the workspace (unknown ids are absent). */
export function baseVersions(db: Db, workspaceId: string, ids: string[]): Promise<BaseVersion[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('knowledge_bases').select(['id', 'version', 'embedding_connection_id', 'embedding_model', 'rerank_connection_id', 'rerank_model']).where('workspace_id', '=', workspaceId).where('id', 'in', ids).execute();
}

/** The base of a document being ingested (the job carries no caller). */
export function findBaseForIngestion(db: Db, id: string): Promise<BaseRow | undefined> {
  return db.selectFrom('knowledge_bases').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function workspaceStorageBytes(db: Db, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('documents')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('size_bytes'), sql<string>`0`).as('total'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

export function findDuplicate(db: Db, baseId: string, contentHash: string): Promise<DocumentRow | undefined> {
  return db.selectFrom('documents').selectAll().where('knowledge_base_id', '=', baseId).where('content_hash', '=', contentHash).executeTakeFirst();
}

/** The document and its encrypted original, atomically; false when the same content is already in the base. */
export async function insertDocument(db: Db, row: DocumentRow, blob: Buffer): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const inserted = await trx
      .insertInto('documents')
      .values(row)
      .onConflict((oc) => oc.columns(['knowledge_base_id', 'content_hash']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) !== 1) return false;
    await trx.insertInto('document_blobs').values({ document_id: row.id, data: blob }).execute();
    await bump(trx, row.knowledge_base_id, row.created_at);
    return true;
  });
}

export function listDocuments(db: Db, workspaceId: string, baseId: string): Promise<DocumentRow[]> {
  return db.selectFrom('documents').selectAll().where('workspace_id', '=', workspaceId).where('knowledge_base_id', '=', baseId).orderBy('created_at', 'desc').limit(1_000).execute();
}

export function findDocument(db: Db, workspaceId: string, baseId: string, id: string): Promise<DocumentRow | undefined> {
  return db.selectFrom('documents').selectAll().where('workspace_id', '=', workspaceId).where('knowledge_base_id', '=', baseId).where('id', '=', id).executeTakeFirst();
}

export async function deleteDocument(db: Db, workspaceId: string, baseId: string, id: string, now: Date): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const result = await trx.deleteFrom('documents').where('workspace_id', '=', workspaceId).where('knowledge_base_id', '=', baseId).where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) !== 1) return false;
    await bump(trx, baseId, now);
    return true;
  });
}

// ---- ingestion worker (by document id) ----

export function findDocumentForIngestion(db: Db, id: string): Promise<DocumentRow | undefined> {
  return db.selectFrom('documents').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function loadBlobForIngestion(db: Db, documentId: string): Promise<Buffer | undefined> {
  const row = await db.selectFrom('document_blobs').select('data').where('document_id', '=', documentId).executeTakeFirst();
  if (!row) return undefined;
  const data: Uint8Array = row.data; // a Buffer from PostgreSQL; from the embedded database's thread, a Uint8Array
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Moves a document to `status` unless it already reached a final state (jobs can run twice). */
export async function setStatus(db: Db, id: string, status: DocumentStatus, now: Date, fields: { error_code?: string | null; error_message?: string | null; title?: string | null; attempts?: number } = {}): Promise<boolean> {
  const result = await db
    .updateTable('documents')
    .set({ status, updated_at: now, ...fields })
    .where('id', '=', id)
    .where('status', 'not in', ['ready', 'failed', 'quarantined'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Quarantine: the original is deleted, the document stays as the record of what happened. */
export async function quarantine(db: Db, id: string, reason: string, now: Date): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const moved = await setStatus(trx, id, 'quarantined', now, { error_code: 'malware_detected', error_message: reason });
    if (moved) await trx.deleteFrom('document_blobs').where('document_id', '=', id).execute();
    return moved;
  });
}

/** Chunks per insert: about 40 ms of work each on the embedded database (500 took 150–450 ms). */
const CHUNK_BATCH = 100;

type NewChunk = Omit<ChunkRow, 'id' | 'document_id' | 'knowledge_base_id' | 'workspace_id'>;
type ChunkVectors = { model: string; values: number[][]; store: (trx: Db, rows: { chunkId: string; knowledgeBaseId: string; workspaceId: string; model: string; vector: number[] }[]) => Promise<void> };

/** Runs `work` in a transaction with the document's row locked, if it is still `processing` (a delete or another run may have moved it on); whether it ran. */
function whileProcessing(db: Db, documentId: string, work: (trx: Db) => Promise<unknown>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('documents').select('status').where('id', '=', documentId).forUpdate().executeTakeFirst();
    if (current?.status !== 'processing') return false;
    await work(trx);
    return true;
  });
}

async function insertBatch(trx: Db, rows: ChunkRow[], from: number, vectors: ChunkVectors | undefined): Promise<void> {
  const batch = rows.slice(from, from + CHUNK_BATCH);
  await trx.insertInto('chunks').values(batch).execute();
  if (vectors)
    await vectors.store(
      trx,
      batch.map((row, j) => ({ chunkId: row.id, knowledgeBaseId: row.knowledge_base_id, workspaceId: row.workspace_id, model: vectors.model, vector: vectors.values[from + j]! })),
    );
}

/**
 * Replaces the document's chunks (and their vectors, when given: one per chunk) and marks
 * it ready (a rerun replaces, never duplicates). Returns false when the document was no
 * longer `processing` (deleted, or finished by another run).
 *
 * On PostgreSQL this is one transaction. With `oneSession` (the embedded database, whose
 * single session a transaction holds against every other request: a 2,000-chunk document
 * held them for a second and more) each batch is a transaction of its own while the
 * document stays `processing`, and readers only ever see chunks of `ready` documents. The
 * last transaction marks it ready only if every position is there exactly once; otherwise
 * (two runs interleaved) it removes the chunks and throws, and the job's retry starts over.
 */
export async function saveChunks(db: Db, document: DocumentRow, chunks: NewChunk[], title: string | null, now: Date, newId: () => string, vectors?: ChunkVectors, oneSession = false): Promise<boolean> {
  const rows: ChunkRow[] = chunks.map((c) => ({ ...c, id: newId(), document_id: document.id, knowledge_base_id: document.knowledge_base_id, workspace_id: document.workspace_id }));
  const removeChunks = (trx: Db) => trx.deleteFrom('chunks').where('document_id', '=', document.id).execute();
  const finish = async (trx: Db) => {
    await trx.updateTable('documents').set({ status: 'ready', chunk_count: chunks.length, title, error_code: null, error_message: null, updated_at: now }).where('id', '=', document.id).execute();
    await bump(trx, document.knowledge_base_id, now);
  };
  if (!oneSession) {
    return whileProcessing(db, document.id, async (trx) => {
      await removeChunks(trx);
      for (let i = 0; i < rows.length; i += CHUNK_BATCH) await insertBatch(trx, rows, i, vectors);
      await finish(trx);
    });
  }
  try {
    if (!(await whileProcessing(db, document.id, removeChunks))) return false;
    for (let i = 0; i < rows.length; i += CHUNK_BATCH) {
      if (!(await whileProcessing(db, document.id, (trx) => insertBatch(trx, rows, i, vectors)))) return false;
    }
    return await whileProcessing(db, document.id, async (trx) => {
      const stored = await trx
        .selectFrom('chunks')
        .select([(eb) => eb.fn.countAll<string>().as('n'), (eb) => eb.fn.count<string>('position').distinct().as('positions')])
        .where('document_id', '=', document.id)
        .executeTakeFirstOrThrow();
      if (Number(stored.n) !== rows.length || Number(stored.positions) !== rows.length) {
        throw new Error(`indexing of document ${document.id} interleaved with another run (${stored.n} chunks for ${rows.length}); retrying`);
      }
      await finish(trx);
    });
  } catch (error) {
    // Half a document's chunks must not stay behind a failed run (they would count in the word statistics).
    await whileProcessing(db, document.id, removeChunks).catch(() => undefined);
    throw error;
  }
}

const UNFINISHED = ['pending', 'scanning', 'processing'] as const;

/** Unfinished documents, oldest first; with `createdBefore`, only those created before it (the reconciler's grace period). */
export function unfinishedDocuments(db: Db, limit: number, createdBefore?: Date): Promise<{ id: string }[]> {
  let query = db.selectFrom('documents').select('id').where('status', 'in', UNFINISHED);
  if (createdBefore) query = query.where('created_at', '<', createdBefore);
  return query.orderBy('created_at').limit(limit).execute();
}

/** Which of these documents are still unfinished (by id: the reconciler looks again before enqueuing). */
export async function stillUnfinished(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('documents').select('id').where('id', 'in', ids).where('status', 'in', UNFINISHED).execute();
  return new Set(rows.map((row) => row.id));
}

export interface ChunkHit {
  chunk_id: string;
  document_id: string;
  knowledge_base_id: string;
  filename: string;
  title: string | null;
  position: number;
  heading: string | null;
  text: string;
  score: number;
}

/** The chunks at these (document, position) pairs, of the workspace's ready documents. */
export function chunksAt(db: Db, workspaceId: string, at: { documentId: string; position: number }[]): Promise<{ document_id: string; position: number; heading: string | null; text: string }[]> {
  if (at.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('chunks as c')
    .innerJoin('documents as d', 'd.id', 'c.document_id')
    .select(['c.document_id', 'c.position', 'c.heading', 'c.text'])
    .where('c.workspace_id', '=', workspaceId)
    .where('d.status', '=', 'ready')
    .where((eb) => eb.or(at.map((p) => eb.and([eb('c.document_id', '=', p.documentId), eb('c.position', '=', p.position)]))))
    .execute();
}

/** Chunks by id with their documents, inside the workspace (for hits found by vector search). */
export function chunkHits(db: Db, workspaceId: string, ids: string[]): Promise<Omit<ChunkHit, 'score'>[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('chunks as c')
    .innerJoin('documents as d', 'd.id', 'c.document_id')
    .select(['c.id as chunk_id', 'c.document_id', 'c.knowledge_base_id', 'd.filename', 'd.title', 'c.position', 'c.heading', 'c.text'])
    .where('c.workspace_id', '=', workspaceId)
    .where('c.id', 'in', ids)
    .where('d.status', '=', 'ready')
    .execute();
}
