/**
 * The knowledge plugin: knowledge bases, the ingestion pipeline on the job queue (run in
 * this process unless INGEST_IN_PROCESS=false hands it to `bastion worker`), embeddings
 * and retrieval. Chat and agents take the retrieval from here.
 */
import fp from 'fastify-plugin';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { ChunkEmbeddings } from '../modules/knowledge/embeddings.js';
import { createPipeline, createScanners, extractLimits } from '../modules/knowledge/ingestion.js';
import { EMBED_JOB, INGEST_JOB } from '../modules/knowledge/pipeline.js';
import { IngestionReconciler } from '../modules/knowledge/reconciler.js';
import { Reranker } from '../modules/knowledge/reranking.js';
import { KnowledgeRetrieval, type SearchHit } from '../modules/knowledge/retrieval.js';
import { knowledgeRoutes } from '../modules/knowledge/routes.js';
import { KnowledgeService } from '../modules/knowledge/service.js';
import { MemoryQueue } from '../platform/queue/memory-queue.js';
import type { JobQueue } from '../platform/queue/queue.js';
import { JsonCache } from '../platform/store/cache.js';

/** How long a search's hits are reused; a document change bumps the base's version, which changes the key. */
export const RETRIEVAL_CACHE_TTL_MS = 60_000;
/** Whole time for fetching a document from a URL. */
export const URL_FETCH_TIMEOUT_MS = 20_000;

export interface KnowledgeOptions {
  /** The job queue (BullMQ on Redis, or in-process); default: a new in-process queue owned by the app. */
  queue?: JobQueue | undefined;
  /**
   * Re-enqueue documents left unfinished by a previous stop when the app is ready, and
   * keep re-enqueuing those whose job the queue lost (the reconciler) while it runs
   * (`bastion serve`).
   */
  recoverIngestion?: boolean | undefined;
}

export interface Knowledge {
  retrieval: KnowledgeRetrieval;
  /** For a conversation's attachments (chat), which use the same intake and ingestion. */
  service: KnowledgeService;
  queue: JobQueue;
  /** Re-enqueues documents whose job went missing; null unless `recoverIngestion`. */
  reconciler: IngestionReconciler | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    knowledge: Knowledge;
  }
}

export const knowledge = fp(
  async (app: App, options: KnowledgeOptions) => {
    const { config, db, clock, encryptor, logger, metrics, cacheStats, securityEvents, store, outbound, storage } = app.core;
    const embeddings = new ChunkEmbeddings(db, app.providers.resolver);
    const { usage } = app.workspaces;
    const reranker = new Reranker(app.providers.resolver, {
      allowed: (workspaceId) => usage.hasBudgetLeft(workspaceId),
      observe: async (target, outcome) => {
        metrics.rerankDuration.observe({ method: outcome.method }, outcome.ms / 1000);
        metrics.rerankTokens.inc({ method: outcome.method, direction: 'input' }, outcome.inputTokens);
        metrics.rerankTokens.inc({ method: outcome.method, direction: 'output' }, outcome.outputTokens);
        await usage.record(target.workspaceId, outcome.inputTokens, outcome.outputTokens);
      },
    });
    const cache = new JsonCache<SearchHit[]>(store, 'retrieval', cacheStats, RETRIEVAL_CACHE_TTL_MS);
    const retrieval = new KnowledgeRetrieval(db, cache, embeddings, logger, reranker, undefined, config.SEARCH_CONCURRENCY);
    metrics.observeSearches(() => retrieval.searchLoad);

    const queue = options.queue ?? new MemoryQueue();
    if (!options.queue) app.addHook('onClose', () => queue.close());
    metrics.observeQueue(queue, [INGEST_JOB, EMBED_JOB]);
    const scanners = createScanners(config, logger);
    const pipeline = createPipeline({ config, db, encryptor, clock, logger, queue, scanners, embeddings, securityEvents, storage });
    if (config.INGEST_IN_PROCESS) pipeline.start(config.INGEST_CONCURRENCY);
    // Every API copy runs the reconciler; the store's lock makes one of them do each pass.
    const reconciler = options.recoverIngestion ? new IngestionReconciler({ db, queue, store, clock, logger, pipeline }) : null;
    if (reconciler) {
      app.addHook('onReady', async () => {
        const requeued = await pipeline.recover();
        if (requeued > 0) logger.info({ requeued }, 'unfinished documents enqueued again');
        reconciler.start();
      });
      app.addHook('onClose', () => reconciler.stop());
    }
    const knowledge = new KnowledgeService({
      db,
      encryptor,
      clock,
      logger,
      workspaces: app.workspaces.workspaces,
      providers: app.providers.providers,
      scanners,
      outbound: outbound.knowledge,
      pipeline,
      embeddings,
      retrieval,
      securityEvents,
      audit: app.accounts.audit,
      storage,
      settings: { maxFileBytes: config.UPLOAD_MAX_BYTES, workspaceQuotaBytes: config.WORKSPACE_STORAGE_QUOTA_BYTES, extractLimits: extractLimits(config), urlTimeoutMs: URL_FETCH_TIMEOUT_MS },
    });
    await app.register(knowledgeRoutes(knowledge, config.UPLOAD_MAX_BYTES), { prefix: API_PREFIX });
    app.decorate('knowledge', { retrieval, service: knowledge, queue, reconciler });
  },
  { name: 'bastion-knowledge', fastify: '5.x', dependencies: ['bastion-core', 'bastion-accounts', 'bastion-workspaces', 'bastion-providers'] },
);
