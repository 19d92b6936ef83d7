/**
 * The ingestion pipeline: scan (ClamAV, when it could not be asked at upload) → extract
 * text → chunk → index, one job per document on the job queue. The database is the
 * source of truth: each stage moves the document's status only forward, a job that runs
 * twice finds the work done, and on start every unfinished document is enqueued again.
 * Failures a retry cannot fix (a bad document) fail at once with the reason; others are
 * retried with backoff and, once the queue gives up, recorded as failed with the reason.
 */
import { randomUUID } from 'node:crypto';
import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import { chunkText } from '../../platform/documents/chunk.js';
import { DocumentError } from '../../platform/documents/errors.js';
import { extractText, type ExtractLimits } from '../../platform/documents/extract.js';
import type { JobQueue } from '../../platform/queue/queue.js';
import { ScannerUnavailableError, type Scanner } from '../../platform/scan/scanner.js';
import type { StorageGuard } from '../../platform/storage/free-space.js';
import type { SecurityEventSink } from '../security-events/service.js';
import type { ChunkEmbeddings } from './embeddings.js';
import { DOCUMENT_ERRORS } from './intake.js';
import * as repo from './repo.js';

export const INGEST_JOB = 'ingest';
/** Embeds a base's chunks that have no vector for its model (after the model changed). */
export const EMBED_JOB = 'embed-base';
const EMBED_PAGE = 256;
const SCANNER_RETRY_MS = 60_000;
/**
 * Bytes the embedded database writes per byte of extracted text: the chunks (with their
 * overlap) and their full-text index, each to its table and to the write-ahead log.
 */
export const CHUNK_STORAGE_FACTOR = 3;

export interface PipelineDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  logger: Logger;
  queue: JobQueue;
  clamav: Scanner | null;
  extractLimits: ExtractLimits;
  chunking: { maxTokens: number; overlapTokens: number };
  attempts: number;
  embeddings: ChunkEmbeddings;
  securityEvents: SecurityEventSink;
  /** Space for the chunks is reserved before they are written (a refusal retries the job with backoff). */
  storage: Pick<StorageGuard, 'reserve'>;
  /** The database has one session (the embedded one): chunks go in batch by batch, not in one transaction (repo.saveChunks). */
  oneSession?: boolean;
}

/** The encryption binding (authenticated data) of a document's original in document_blobs.data. */
export const blobBinding = (documentId: string) => ({ table: 'document_blobs', column: 'data', rowId: documentId });

export class IngestionPipeline {
  constructor(private readonly deps: PipelineDeps) {
    deps.queue.onFailure((event) => {
      if (event.job.name === EMBED_JOB && event.final) {
        deps.logger.error({ err: { message: event.error.message }, knowledgeBaseId: (event.job.data as { baseId: string }).baseId }, 'embedding backfill gave up; vector search misses older chunks until the model is set again');
        return;
      }
      if (event.job.name !== INGEST_JOB || !event.final) return;
      const { documentId } = event.job.data as { documentId: string };
      if (event.error instanceof ScannerUnavailableError) {
        // Fail closed without giving up: the document stays in `scanning` and is tried again later.
        deps.logger.warn({ documentId }, 'scanner still unavailable; document held in scanning');
        void this.enqueue(documentId, SCANNER_RETRY_MS).catch((error: unknown) => deps.logger.error({ err: error, documentId }, 'could not re-enqueue a held document'));
        return;
      }
      void repo
        .setStatus(deps.db, documentId, 'failed', deps.clock.now(), { error_code: 'ingestion_failed', error_message: `Gave up after ${event.job.attempt} attempts: ${event.error.message.slice(0, 300)}`, attempts: event.job.attempt })
        .catch((error: unknown) => deps.logger.error({ err: error, documentId }, 'could not record a failed ingestion'));
    });
  }

  enqueue(documentId: string, delayMs = 0): Promise<void> {
    return this.deps.queue.add(INGEST_JOB, { documentId }, { jobId: documentId, attempts: this.deps.attempts, backoffMs: 2_000, ...(delayMs > 0 ? { delayMs } : {}) });
  }

  enqueueEmbedding(baseId: string): Promise<void> {
    return this.deps.queue.add(EMBED_JOB, { baseId }, { jobId: `embed-${baseId}-${Date.now()}`, attempts: this.deps.attempts, backoffMs: 5_000 });
  }

  /** Consumes ingestion jobs in this process (the API's embedded mode, or `bastion worker`). */
  start(concurrency: number): void {
    this.deps.queue.process<{ documentId: string }>(INGEST_JOB, (job) => this.ingest(job.data.documentId, job.attempt), { concurrency });
    this.deps.queue.process<{ baseId: string }>(EMBED_JOB, async (job) => void (await this.backfill(job.data.baseId)), { concurrency: 1 });
  }

  /** Embeds, page by page, the base's chunks without a vector for its current model; idempotent. */
  backfill(baseId: string): Promise<number> {
    return backfillEmbeddings(this.deps.db, this.deps.embeddings, baseId, this.deps.clock);
  }

  /** Enqueues every document left unfinished by a stop or a crash; returns how many. */
  async recover(): Promise<number> {
    const unfinished = await repo.unfinishedDocuments(this.deps.db, 10_000);
    for (const { id } of unfinished) await this.enqueue(id);
    return unfinished.length;
  }

  /** Runs the remaining stages of one document; idempotent. */
  async ingest(documentId: string, attempt = 1): Promise<void> {
    const { db, clock } = this.deps;
    const document = await repo.findDocumentForIngestion(db, documentId);
    if (!document || ['ready', 'failed', 'quarantined'].includes(document.status)) return;
    const sealed = await repo.loadBlobForIngestion(db, documentId);
    if (!sealed) return void (await repo.setStatus(db, documentId, 'failed', clock.now(), { error_code: 'ingestion_failed', error_message: 'The original is missing.' }));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bastion-ingest-'));
    const file = path.join(dir, 'original');
    try {
      await writeFile(file, await this.deps.encryptor.decrypt(blobBinding(documentId), sealed), { mode: 0o600 });
      if (document.status === 'scanning' || document.status === 'pending') {
        if (this.deps.clamav) {
          // Unavailable scanners throw: the job is retried and the document stays in `scanning` (fail closed).
          const verdict = await this.deps.clamav.scan({ path: file, size: Number(document.size_bytes), filename: document.filename });
          if (!verdict.clean) {
            await repo.quarantine(db, documentId, verdict.reason, clock.now());
            await this.deps.securityEvents.record({ type: 'knowledge.document_quarantined', userId: document.created_by, details: { documentId, workspaceId: document.workspace_id, reason: verdict.reason } });
            return;
          }
        }
        await repo.setStatus(db, documentId, 'processing', clock.now(), { attempts: attempt });
      }
      let extracted;
      try {
        extracted = await extractText(file, document.kind, this.deps.extractLimits);
      } catch (error) {
        if (!(error instanceof DocumentError)) throw error;
        await repo.setStatus(db, documentId, 'failed', clock.now(), { error_code: error.code, error_message: DOCUMENT_ERRORS[error.code].message, attempts: attempt });
        return;
      }
      const chunks = chunkText(extracted.text, this.deps.chunking).map((c) => ({ position: c.position, heading: c.heading ?? null, text: c.text, start_char: c.startChar, end_char: c.endChar }));
      const vectors = await this.vectorsFor(document.knowledge_base_id, chunks);
      const reservation = await this.deps.storage.reserve(CHUNK_STORAGE_FACTOR * Buffer.byteLength(extracted.text));
      try {
        await repo.saveChunks(db, { ...document, status: 'processing' }, chunks, extracted.title?.slice(0, 300) ?? null, clock.now(), randomUUID, vectors, this.deps.oneSession);
      } finally {
        reservation.release();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Vectors for the chunks when the base names an embedding model (provider errors retry the job). */
  private async vectorsFor(baseId: string, chunks: { heading: string | null; text: string }[]): Promise<Parameters<typeof repo.saveChunks>[6]> {
    const { db, embeddings } = this.deps;
    const base = await repo.findBaseForIngestion(db, baseId);
    if (!base?.embedding_connection_id || !base.embedding_model || chunks.length === 0 || !(await embeddings.available())) return undefined;
    const target = { workspaceId: base.workspace_id, connectionId: base.embedding_connection_id, model: base.embedding_model };
    const values = await embeddings.embed(
      target,
      chunks.map((c) => (c.heading ? `${c.heading}\n${c.text}` : c.text)),
    );
    return { model: target.model, values, store: (trx, rows) => embeddings.store(trx, rows) };
  }
}

/**
 * Embeds, page by page, the base's chunks without a vector for its current model; idempotent.
 * The base is read again for every page: a model changed meanwhile ends this run.
 */
export async function backfillEmbeddings(db: Db, embeddings: ChunkEmbeddings, baseId: string, clock: Clock): Promise<number> {
  let done = 0;
  for (;;) {
    const base = await repo.findBaseForIngestion(db, baseId);
    if (!base?.embedding_connection_id || !base.embedding_model || !(await embeddings.available())) return done;
    const target = { workspaceId: base.workspace_id, connectionId: base.embedding_connection_id, model: base.embedding_model };
    const page = await embeddings.missing(baseId, target.model, EMBED_PAGE);
    if (page.length === 0) return done;
    const vectors = await embeddings.embed(
      target,
      page.map((c) => c.text),
    );
    await embeddings.store(
      db,
      page.map((c, i) => ({ chunkId: c.id, knowledgeBaseId: baseId, workspaceId: base.workspace_id, model: target.model, vector: vectors[i]! })),
    );
    // Searches cached while this page had no vectors must not be answered again.
    await repo.bumpBaseVersion(db, baseId, clock.now());
    done += page.length;
  }
}
