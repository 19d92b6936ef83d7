/**
 * `bastion worker`: ingestion workers in their own process, consuming the BullMQ queues
 * on Redis (the API then runs with INGEST_IN_PROCESS=false). On start it enqueues again
 * whatever a previous stop left unfinished; SIGTERM/SIGINT let running jobs finish.
 */
import type { Config } from './config.js';
import { createLogger } from './http/logger.js';
import { createPipeline, createScanners } from './modules/knowledge/ingestion.js';
import { systemClock } from './platform/clock.js';
import { Encryptor } from './platform/crypto/envelope.js';
import { loadKeyring } from './platform/crypto/keyring.js';
import { openDatabase } from './platform/db/database.js';
import { openQueue } from './platform/queue/open-queue.js';

export async function runWorker(config: Config): Promise<number> {
  const logger = createLogger(config.LOG_LEVEL);
  if (!config.REDIS_URL || !config.DATABASE_URL) {
    console.error('bastion worker needs REDIS_URL and DATABASE_URL: separate workers share the queue and the database with the API. On the embedded defaults the API ingests documents itself.');
    return 2;
  }
  const database = await openDatabase(config, logger);
  const { keyring } = loadKeyring(config, logger);
  const encryptor = new Encryptor(database.db, keyring, { onSecurityEvent: (event) => logger.warn({ securityEvent: event }, 'decryption failed') });
  const queue = openQueue(config.REDIS_URL, { prefix: `${config.REDIS_KEY_PREFIX}queue` });
  const pipeline = createPipeline({ config, db: database.db, encryptor, clock: systemClock, logger, queue, scanners: createScanners(config, logger) });
  pipeline.start(config.INGEST_CONCURRENCY);
  const requeued = await pipeline.recover();
  logger.info({ concurrency: config.INGEST_CONCURRENCY, requeued }, 'worker started');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  logger.info('worker stopping: letting running jobs finish');
  await queue.close(config.SHUTDOWN_TIMEOUT_MS);
  await database.close();
  return 0;
}
