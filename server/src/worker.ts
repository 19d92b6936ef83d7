/**
 * `bastion worker`: ingestion workers in their own process, consuming the BullMQ queues
 * on Redis (the API then runs with INGEST_IN_PROCESS=false). On start it enqueues again
 * whatever a previous stop left unfinished, and while it runs the reconciler enqueues
 * documents whose job Redis lost (under the same lock as the API copies');
 * SIGTERM/SIGINT let running jobs finish.
 */
import type { Config } from './config/index.js';
import { createLogger } from './platform/log.js';
import { ChunkEmbeddings } from './modules/knowledge/embeddings.js';
import { createPipeline, createScanners } from './modules/knowledge/ingestion.js';
import { IngestionReconciler } from './modules/knowledge/reconciler.js';
import { providerResolver } from './compose/providers.js';
import { SecurityEvents } from './modules/security-events/service.js';
import { systemClock } from './platform/clock.js';
import { Encryptor } from './platform/crypto/envelope.js';
import { loadKeyring } from './platform/crypto/keyring.js';
import { openDatabase } from './platform/db/database.js';
import { createOutboundClients } from './platform/net/outbound-clients.js';
import { MemoryStore } from './platform/store/memory-store.js';
import { openStore } from './platform/store/open-store.js';
import { openQueue } from './platform/queue/open-queue.js';

/** Keys of the in-process store the worker's security events sample with (nothing else is stored there). */
const WORKER_EVENT_STORE_KEYS = 10_000;

export async function runWorker(config: Config): Promise<number> {
  const logger = createLogger(config.LOG_LEVEL);
  if (!config.REDIS_URL || !config.DATABASE_URL) {
    console.error('bastion worker needs REDIS_URL and DATABASE_URL: separate workers share the queue and the database with the API. On the embedded defaults the API ingests documents itself.');
    return 2;
  }
  const database = await openDatabase(config, logger);
  const { keyring } = loadKeyring(config, logger);
  const encryptor = new Encryptor(database.db, keyring, { onSecurityEvent: (event) => logger.warn({ securityEvent: event }, 'decryption failed') });
  const queue = openQueue(config.REDIS_URL, { prefix: `${config.REDIS_KEY_PREFIX}queue`, lockDurationMs: config.QUEUE_LOCK_MS, stalledIntervalMs: Math.ceil(config.QUEUE_LOCK_MS / 2) });
  // Embeddings go through the same guarded providers client and per-connection breakers as the API's.
  const outbound = createOutboundClients(config, logger);
  const embeddings = new ChunkEmbeddings(database.db, providerResolver(config, database.db, encryptor, outbound));
  // Quarantines are stored and logged here; the API's detector does not see this process's events.
  const securityEvents = new SecurityEvents({ db: database.db, store: new MemoryStore({ maxKeys: WORKER_EVENT_STORE_KEYS, sweepIntervalMs: 0 }), clock: systemClock, logger });
  const pipeline = createPipeline({ config, db: database.db, encryptor, clock: systemClock, logger, queue, scanners: createScanners(config, logger), embeddings, securityEvents });
  pipeline.start(config.INGEST_CONCURRENCY);
  const requeued = await pipeline.recover();
  // The shared store (Redis) only for the reconciler's lock, taken with the API copies.
  const store = openStore(config, logger);
  const reconciler = new IngestionReconciler({ db: database.db, queue, store, clock: systemClock, logger, pipeline });
  reconciler.start();
  logger.info({ concurrency: config.INGEST_CONCURRENCY, requeued }, 'worker started');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  logger.info('worker stopping: letting running jobs finish');
  await reconciler.stop();
  await queue.close(config.SHUTDOWN_TIMEOUT_MS);
  await store.close();
  await outbound.close();
  await database.close();
  return 0;
}
