/**
 * Knowledge bases and their documents. Uploads and URLs go through the intake checks,
 * are stored (original envelope-encrypted under the workspace key) and handed to the
 * ingestion pipeline. Deleting a document or a base removes its original, chunks and
 * index entries in the same transaction, and bumps the base version that keys the
 * retrieval cache.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { ExtractLimits } from '../../platform/documents/extract.js';
import { NetError } from '../../platform/net/errors.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import type { StorageGuard } from '../../platform/storage/free-space.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/service.js';
import type { ProviderService } from '../providers/service.js';
import type { SecurityEventSink } from '../security-events/service.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import type { ChunkEmbeddings } from './embeddings.js';
import { check, receive, sizeText, type IntakeScanners } from './intake.js';
import { blobBinding, type IngestionPipeline } from './pipeline.js';
import * as repo from './repo.js';
import type { KnowledgeRetrieval, SearchHit } from './retrieval.js';

export type { DocumentRow } from './repo.js';

export interface KnowledgeSettings {
  maxFileBytes: number;
  workspaceQuotaBytes: number;
  extractLimits: ExtractLimits;
  urlTimeoutMs: number;
}

export interface KnowledgeDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  logger: Logger;
  workspaces: WorkspaceService;
  /** Where an embedding model's connection is looked up (the workspace's own only). */
  providers: Pick<ProviderService, 'getForRun'>;
  scanners: IntakeScanners;
  outbound: OutboundHttp<'knowledge'>;
  pipeline: IngestionPipeline;
  embeddings: ChunkEmbeddings;
  retrieval: KnowledgeRetrieval;
  securityEvents: SecurityEventSink;
  /** Changes to bases and documents are recorded here, in their own transaction. */
  audit: AuditLog;
  /** Space under DATA_DIR is reserved before a document is stored (embedded database). */
  storage: Pick<StorageGuard, 'reserve'>;
  settings: KnowledgeSettings;
}

/**
 * Bytes the embedded database ends up writing per byte of a document: the sealed original,
 * then its chunks and full-text index, each to its table and to the write-ahead log
 * (measured on PGlite: 2.3–6.3× per upload of 1–8 MB, 4.4× overall, WAL segments included).
 */
export const UPLOAD_STORAGE_FACTOR = 5;

/** Where a received document came from, and what it claims to be. */
type DocumentMeta = { filename: string; declaredType: string | undefined; source: 'upload' | 'url'; sourceUrl: string | null };

/** The embedding model a base's chunks are indexed with (null: full-text search only). */
export type EmbeddingChoice = { connectionId: string; model: string } | null;
/** The model that reranks a base's search results (null: no reranking). */
export type RerankChoice = { connectionId: string; model: string } | null;

export class KnowledgeService {
  constructor(private readonly deps: KnowledgeDeps) {}

  list(context: WorkspaceContext): Promise<repo.BaseRow[]> {
    this.deps.workspaces.require(context, 'knowledge.read');
    return repo.listBases(this.deps.db, context.workspaceId);
  }

  async get(context: WorkspaceContext, id: string): Promise<repo.BaseRow> {
    this.deps.workspaces.require(context, 'knowledge.read');
    const base = await repo.findBase(this.deps.db, context.workspaceId, id);
    if (!base) throw new AppError('not_found', 'No such knowledge base.');
    return base;
  }

  async create(context: WorkspaceContext, input: { name: string; description?: string | undefined; embedding?: EmbeddingChoice | undefined; rerank?: RerankChoice | undefined }, actor: Actor): Promise<repo.BaseRow> {
    this.deps.workspaces.require(context, 'knowledge.write');
    const embedding = input.embedding ? await this.checkEmbedding(context, input.embedding) : null;
    const rerank = input.rerank ? await this.checkRerank(context, input.rerank) : null;
    const now = this.deps.clock.now();
    const id = randomUUID();
    await this.deps.audit.transaction(async (trx) => {
      await repo.insertBase(trx, {
        id,
        workspace_id: context.workspaceId,
        name: input.name,
        description: input.description ?? '',
        embedding_connection_id: embedding?.connectionId ?? null,
        embedding_model: embedding?.model ?? null,
        rerank_connection_id: rerank?.connectionId ?? null,
        rerank_model: rerank?.model ?? null,
        created_by: context.userId,
        created_at: now,
        updated_at: now,
      });
      await this.deps.audit.append(trx, actor, { action: 'knowledge.base.created', workspaceId: context.workspaceId, target: { type: 'knowledge_base', id } });
    });
    return this.get(context, id);
  }

  /**
   * Renames or describes a base, or changes its embedding model: vectors of the old model
   * are dropped and the existing chunks are embedded again in the background.
   */
  async update(
    context: WorkspaceContext,
    id: string,
    changes: { name?: string | undefined; description?: string | undefined; embedding?: EmbeddingChoice | undefined; rerank?: RerankChoice | undefined },
    actor: Actor,
  ): Promise<repo.BaseRow> {
    this.deps.workspaces.require(context, 'knowledge.write');
    const before = await this.get(context, id);
    const embedding = changes.embedding ? await this.checkEmbedding(context, changes.embedding) : changes.embedding;
    const rerank = changes.rerank ? await this.checkRerank(context, changes.rerank) : changes.rerank;
    await this.deps.audit.transaction(async (trx) => {
      await repo.updateBase(
        trx,
        context.workspaceId,
        id,
        {
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.description !== undefined ? { description: changes.description } : {}),
          ...(embedding !== undefined ? { embedding_connection_id: embedding?.connectionId ?? null, embedding_model: embedding?.model ?? null } : {}),
          ...(rerank !== undefined ? { rerank_connection_id: rerank?.connectionId ?? null, rerank_model: rerank?.model ?? null } : {}),
        },
        this.deps.clock.now(),
      );
      await this.deps.audit.append(trx, actor, { action: 'knowledge.base.updated', workspaceId: context.workspaceId, target: { type: 'knowledge_base', id }, details: { fields: Object.keys(changes).sort() } });
    });
    if (embedding !== undefined && (embedding?.model ?? null) !== before.embedding_model) {
      await this.deps.embeddings.dropOtherModels(id, embedding?.model ?? null);
      if (embedding) await this.deps.pipeline.enqueueEmbedding(id);
    }
    return this.get(context, id);
  }

  /** The connection must be this workspace's, able to embed, and the database must have pgvector. */
  private async checkEmbedding(context: WorkspaceContext, choice: { connectionId: string; model: string }): Promise<{ connectionId: string; model: string }> {
    this.deps.workspaces.require(context, 'providers.read');
    if (!(await this.deps.embeddings.available())) {
      throw new AppError('validation_failed', 'Vector search is not available on this server: its PostgreSQL has no pgvector extension. Full-text search works without it.', [{ path: 'embedding', message: 'vector_search_unavailable' }]);
    }
    const connection = await this.workspaceConnection(context, choice.connectionId, 'embedding.connectionId');
    if (connection.kind !== 'openai') throw new AppError('validation_failed', `A ${connection.kind} connection cannot compute embeddings; use an OpenAI-compatible one.`, [{ path: 'embedding.connectionId', message: 'no_embeddings' }]);
    return choice;
  }

  /**
   * The connection must be this workspace's: OpenAI-compatible (its rerank endpoint, else a
   * judgement by chat) or Anthropic (a judgement by chat).
   */
  private async checkRerank(context: WorkspaceContext, choice: { connectionId: string; model: string }): Promise<{ connectionId: string; model: string }> {
    this.deps.workspaces.require(context, 'providers.read');
    await this.workspaceConnection(context, choice.connectionId, 'rerank.connectionId');
    return choice;
  }

  /** The workspace's connection, or 400 validation_failed at `path` (another workspace's is not found either). */
  private async workspaceConnection(context: WorkspaceContext, connectionId: string, path: string) {
    const connection = await this.deps.providers.getForRun(context.workspaceId, connectionId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'not_found') return undefined;
      throw error;
    });
    if (!connection) throw new AppError('validation_failed', 'No such provider connection in this workspace.', [{ path, message: 'not_found' }]);
    return connection;
  }

  async delete(context: WorkspaceContext, id: string, actor: Actor): Promise<void> {
    this.deps.workspaces.require(context, 'knowledge.write');
    await this.deps.audit.transaction(async (trx) => {
      if (!(await repo.deleteBase(trx, context.workspaceId, id))) throw new AppError('not_found', 'No such knowledge base.');
      await this.deps.audit.append(trx, actor, { action: 'knowledge.base.deleted', workspaceId: context.workspaceId, target: { type: 'knowledge_base', id } });
    });
  }

  async documents(context: WorkspaceContext, baseId: string): Promise<repo.DocumentRow[]> {
    await this.get(context, baseId);
    return repo.listDocuments(this.deps.db, context.workspaceId, baseId);
  }

  async document(context: WorkspaceContext, baseId: string, id: string): Promise<repo.DocumentRow> {
    await this.get(context, baseId); // a conversation's attachments are not reachable here
    const document = await repo.findDocument(this.deps.db, context.workspaceId, baseId, id);
    if (!document) throw new AppError('not_found', 'No such document.');
    return document;
  }

  async deleteDocument(context: WorkspaceContext, baseId: string, id: string, actor: Actor): Promise<void> {
    this.deps.workspaces.require(context, 'knowledge.write');
    await this.get(context, baseId); // a conversation's attachments are not reachable here
    await this.deps.audit.transaction(async (trx) => {
      if (!(await repo.deleteDocument(trx, context.workspaceId, baseId, id, this.deps.clock.now()))) throw new AppError('not_found', 'No such document.');
      await this.deps.audit.append(trx, actor, { action: 'knowledge.document.deleted', workspaceId: context.workspaceId, target: { type: 'document', id }, details: { knowledgeBaseId: baseId } });
    });
  }

  /** Ranked chunks of the base for `query`, with what a citation needs. */
  async search(context: WorkspaceContext, baseId: string, query: string, topK: number): Promise<SearchHit[]> {
    await this.get(context, baseId);
    return this.deps.retrieval.hits(context.workspaceId, [baseId], query, topK);
  }

  /** An uploaded file (a multipart part's stream). */
  async upload(context: WorkspaceContext, baseId: string, part: { filename: string; mimetype?: string | undefined; stream: Readable }, actor: Actor): Promise<repo.DocumentRow> {
    this.deps.workspaces.require(context, 'knowledge.write');
    await this.get(context, baseId);
    const file = await receive(part.stream, this.deps.settings.maxFileBytes);
    return this.storeReceived(context, baseId, file, { filename: part.filename, declaredType: part.mimetype, source: 'upload', sourceUrl: null }, actor);
  }

  /**
   * A file attached to a conversation, into its base of attachments: the same intake, quota
   * and ingestion as an upload. The caller (chat/attachments.ts) has checked that the base
   * is the caller's own conversation's, which is why no knowledge permission is asked.
   */
  async attach(context: WorkspaceContext, baseId: string, part: { filename: string; mimetype?: string | undefined; stream: Readable }, actor: Actor): Promise<repo.DocumentRow> {
    const file = await receive(part.stream, this.deps.settings.maxFileBytes);
    return this.storeReceived(context, baseId, file, { filename: part.filename, declaredType: part.mimetype, source: 'upload', sourceUrl: null }, actor);
  }

  /** The documents of a conversation's base of attachments (the caller checked it is the caller's). */
  attachedDocuments(context: WorkspaceContext, baseId: string): Promise<repo.DocumentRow[]> {
    return repo.listDocuments(this.deps.db, context.workspaceId, baseId);
  }

  /** Deletes a document of a conversation's base of attachments (the caller checked it is the caller's); false: no such document. */
  async removeAttached(context: WorkspaceContext, baseId: string, id: string, actor: Actor, details: Record<string, string>): Promise<boolean> {
    return this.deps.audit.transaction(async (trx) => {
      if (!(await repo.deleteDocument(trx, context.workspaceId, baseId, id, this.deps.clock.now()))) return false;
      await this.deps.audit.append(trx, actor, { action: 'knowledge.document.deleted', workspaceId: context.workspaceId, target: { type: 'document', id }, details: { knowledgeBaseId: baseId, ...details } });
      return true;
    });
  }

  /** A document fetched from a URL through the SSRF guard (size, time and redirect limits). */
  async addUrl(context: WorkspaceContext, baseId: string, url: string, actor: Actor): Promise<repo.DocumentRow> {
    this.deps.workspaces.require(context, 'knowledge.write');
    await this.get(context, baseId);
    let response: Response;
    try {
      response = await this.deps.outbound.fetchFollowing(url, {
        method: 'GET',
        headers: { accept: 'text/html, text/plain, text/markdown, text/csv, application/json, application/pdf, application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.9' },
        timeoutMs: this.deps.settings.urlTimeoutMs,
        maxRedirects: 3,
      });
    } catch (error) {
      if (error instanceof NetError) throw new AppError('validation_failed', `The URL could not be fetched: ${error.message}`, [{ path: 'url', message: error.code }]);
      throw error;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new AppError('validation_failed', `The URL answered HTTP ${response.status}.`, [{ path: 'url', message: 'http_error' }]);
    }
    const declaredType = response.headers.get('content-type')?.split(';')[0]?.trim();
    const file = await receive(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), this.deps.settings.maxFileBytes);
    return this.storeReceived(context, baseId, file, { filename: filenameFromUrl(url, declaredType), declaredType, source: 'url', sourceUrl: url }, actor);
  }

  /** Reserves space for the document first (507 when it would not fit), stores it, and removes the temporary file. */
  private async storeReceived(context: WorkspaceContext, baseId: string, file: Awaited<ReturnType<typeof receive>>, meta: DocumentMeta, actor: Actor): Promise<repo.DocumentRow> {
    try {
      const reservation = await this.deps.storage.reserve(UPLOAD_STORAGE_FACTOR * file.size);
      try {
        return await this.store(context, baseId, file, meta, actor);
      } finally {
        reservation.release();
      }
    } finally {
      await file.discard();
    }
  }

  private async store(context: WorkspaceContext, baseId: string, file: Awaited<ReturnType<typeof receive>>, meta: DocumentMeta, actor: Actor): Promise<repo.DocumentRow> {
    const checked = await check(file, meta, this.deps.scanners, this.deps.settings.extractLimits, (reason, scanner) =>
      this.deps.securityEvents.record({
        ...context.origin,
        type: 'knowledge.malware_refused',
        userId: context.userId,
        details: { workspaceId: context.workspaceId, knowledgeBaseId: baseId, reason, scanner, sha256: file.sha256, size: file.size },
      }),
    );
    const used = await repo.workspaceStorageBytes(this.deps.db, context.workspaceId);
    if (used + file.size > this.deps.settings.workspaceQuotaBytes) {
      throw new AppError('quota_exceeded', `This workspace’s document storage (${sizeText(this.deps.settings.workspaceQuotaBytes)}, WORKSPACE_STORAGE_QUOTA_BYTES) would be exceeded; delete documents first.`);
    }
    const duplicate = await repo.findDuplicate(this.deps.db, baseId, file.sha256);
    if (duplicate) throw new AppError('conflict', `This knowledge base already has this document (${duplicate.id}).`, [{ path: 'documentId', message: duplicate.id }]);
    const now = this.deps.clock.now();
    const id = randomUUID();
    const sealed = await this.deps.encryptor.encrypt({ scope: 'workspace', id: context.workspaceId }, blobBinding(id), await readFile(file.path));
    const row: repo.DocumentRow = {
      id,
      knowledge_base_id: baseId,
      workspace_id: context.workspaceId,
      filename: checked.filename,
      source: meta.source,
      source_url: meta.sourceUrl,
      declared_type: meta.declaredType?.slice(0, 200) ?? null,
      kind: checked.kind,
      size_bytes: String(file.size),
      content_hash: file.sha256,
      status: checked.scanned ? 'processing' : 'scanning',
      error_code: null,
      error_message: null,
      attempts: 0,
      title: null,
      chunk_count: 0,
      created_by: context.userId,
      created_at: now,
      updated_at: now,
    };
    await this.deps.audit.transaction(async (trx) => {
      if (!(await repo.insertDocument(trx, row, sealed))) throw new AppError('conflict', 'This knowledge base already has this document.');
      await this.deps.audit.append(trx, actor, { action: 'knowledge.document.added', workspaceId: context.workspaceId, target: { type: 'document', id }, details: { knowledgeBaseId: baseId, source: meta.source, sizeBytes: file.size } });
    });
    await this.deps.pipeline.enqueue(id);
    return row;
  }
}

/** A display name for a fetched document: the last path segment, with an extension matching its type. */
export function filenameFromUrl(url: string, declaredType: string | undefined): string {
  const last = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '')
    .replace(/[^\w.\- ]/g, '_')
    .slice(0, 100);
  const byType: Record<string, string> = {
    'text/html': 'html',
    'application/xhtml+xml': 'html',
    'text/plain': 'txt',
    'text/markdown': 'md',
    'text/csv': 'csv',
    'application/json': 'json',
    'application/pdf': 'pdf',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  };
  const extension = (declaredType && byType[declaredType]) ?? 'html';
  const base = last.replace(/\.[a-z0-9]{1,5}$/i, '') || 'page';
  return `${base}.${extension}`;
}
