/**
 * Process entry for `bastion serve`: open the backends, migrate, listen, and shut
 * down gracefully on SIGTERM/SIGINT (stop accepting, drain in-flight requests up
 * to SHUTDOWN_TIMEOUT_MS, close pools).
 */
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { type App } from './http/app-type.js';
import type { Config } from './config/index.js';
import { createLogger } from './platform/log.js';
import { openDatabase } from './platform/db/database.js';
import { migrate } from './platform/db/migrator.js';
import { Encryptor } from './platform/crypto/envelope.js';
import { loadKeyring } from './platform/crypto/keyring.js';
import { findUnconfiguredMasterKeys } from './platform/crypto/rotation.js';
import { openStore } from './platform/store/open-store.js';
import { openQueue } from './platform/queue/open-queue.js';
import { systemClock } from './platform/clock.js';
import { OutboxMailer, SmtpMailer } from './platform/mail/mailer.js';

export async function serve(config: Config): Promise<App> {
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openDatabase(config, logger);
  const { applied, current } = await migrate(database.db);
  logger.info({ applied: applied.map((m) => `${m.version}_${m.name}`), schemaVersion: current }, 'database migrated');
  const { keyring } = loadKeyring(config, logger);
  const unconfigured = await findUnconfiguredMasterKeys(database.db, keyring);
  if (unconfigured.length > 0) {
    // Not fatal (no crash loop): records under these keys fail to decrypt, each as a security event.
    logger.error({ securityEvent: 'crypto.master_key_missing', masterKeyIds: unconfigured }, 'data keys are wrapped by master keys that are not configured');
  }
  const encryptor = new Encryptor(database.db, keyring, {
    onSecurityEvent: (event) => logger.warn({ securityEvent: event }, 'decryption failed'),
  });
  const store = openStore(config, logger);
  const mailer = config.SMTP_URL ? new SmtpMailer(config.SMTP_URL, config.MAIL_FROM) : new OutboxMailer(database.db, encryptor, systemClock, logger);
  // Not fatal: /readyz reports the store until it connects, and requests get 503.
  await store.ready().catch(() => logger.warn('store not reachable yet; will keep retrying'));
  if (database.kind === 'pglite') logger.info({ dataDir: config.DATA_DIR }, 'using the embedded database (one process only)');
  if (store.kind === 'memory') logger.info('using the in-memory store (one process only)');

  const queue = openQueue(config.REDIS_URL, { prefix: `${config.REDIS_KEY_PREFIX}queue`, lockDurationMs: config.QUEUE_LOCK_MS, stalledIntervalMs: Math.ceil(config.QUEUE_LOCK_MS / 2) });
  const app = await buildApp({ config, logger, database, store, encryptor, mailer, queue, recoverIngestion: true });
  // The app does not own its backends (tests share them); the process does.
  const closeBackends = async () => {
    await queue.close();
    await mailer.close();
    await Promise.allSettled([database.close(), store.close()]);
  };
  await app.listen({ host: config.HOST, port: config.PORT });
  installShutdown(app, closeBackends, config.SHUTDOWN_TIMEOUT_MS, logger);
  return app;
}

/**
 * Closes the app, then its backends. Not an onClose hook of the app: Fastify runs the root's
 * onClose hooks last-registered first, so one added after buildApp closed the database and
 * the store before the modules' own hooks stopped the indexers, jobs and counters that use
 * them ("driver has already been destroyed", "Connection is closed" on every shutdown under load).
 */
export async function closeAppThenBackends(app: Pick<App, 'close'>, closeBackends: () => Promise<void>): Promise<void> {
  await app.close();
  await closeBackends();
}

function installShutdown(app: App, closeBackends: () => Promise<void>, timeoutMs: number, logger: Logger): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal, timeoutMs }, 'shutting down: draining in-flight requests');
    const timer = setTimeout(() => {
      logger.warn('shutdown timeout reached: closing remaining connections');
      app.server.closeAllConnections();
    }, timeoutMs);
    timer.unref();
    closeAppThenBackends(app, closeBackends).then(
      () => {
        clearTimeout(timer);
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
