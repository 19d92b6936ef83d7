/**
 * The core plugin: what every other part of the app stands on. The backends and settings
 * (`app.core`), the error envelope, drain, JSON body, security monitoring's request
 * boundary, metrics, the hardening boundary (headers, CORS, limits, IP rate limits), the
 * storage guard (no changes on a nearly full disk), the OpenAPI document, cookies, and the
 * outbound HTTP clients.
 *
 * Hook order is registration order: this plugin registers the first hooks (the drain's
 * onRequest first), and every other compose plugin declares it as a dependency.
 */
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { declareAccess } from '../http/access.js';
import type { App } from '../http/app-type.js';
import { cookiePolicy, type CookiePolicy } from '../http/authenticate.js';
import { expectationFailedHandler, type Drain } from '../http/early-errors.js';
import { registerErrorHandler } from '../http/errors-plugin.js';
import { registerBoundary, type HardeningOptions } from '../http/hardening.js';
import { registerJsonBody } from '../http/json-body.js';
import { responseSerializerCompiler } from '../http/response-serializer.js';
import { isExposed, registerMetrics } from '../http/metrics-exposure.js';
import { withErrorEnvelope } from '../http/openapi-errors.js';
import { registerStorageGuard } from '../http/storage-guard.js';
import type { HeaderSets } from '../http/security-headers.js';
import { CSP_REPORT_CONTENT_TYPES } from '../modules/csp-reports/routes.js';
import { Monitoring } from '../modules/monitoring/index.js';
import { watchDecryption } from '../modules/security-events/observers.js';
import type { SecurityEvents } from '../modules/security-events/service.js';
import type { Clock } from '../platform/clock.js';
import type { Encryptor } from '../platform/crypto/envelope.js';
import type { Database, Db } from '../platform/db/database.js';
import type { Mailer } from '../platform/mail/mailer.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { createOutboundClients, type OutboundClients } from '../platform/net/outbound-clients.js';
import { statfsReader, StorageGuard } from '../platform/storage/free-space.js';
import { CacheStats } from '../platform/store/cache.js';
import type { Store } from '../platform/store/store.js';
import type { DeprecationRegistry } from '../http/api-versions.js';

/** What the app is built from; serve.ts and the test harness provide it. */
export interface CoreDeps {
  config: Config;
  logger: Logger;
  database: Database;
  store: Store;
  encryptor: Encryptor;
  mailer: Mailer;
  clock: Clock;
  deprecations: DeprecationRegistry;
  /** Prometheus registry and metrics; default: new ones owned by this app. */
  metrics?: Metrics | undefined;
}

export interface Core extends CoreDeps {
  db: Db;
  headers: HeaderSets;
  drain: Drain;
  cookie: CookiePolicy;
  /** Options of the hardening boundary; the principal limits (accounts) take them too. */
  hardening: HardeningOptions;
  monitoring: Monitoring;
  securityEvents: SecurityEvents;
  metrics: Metrics;
  /** Hit/miss counters of every cache, read by the metrics and the admin statistics. */
  cacheStats: CacheStats;
  /** One outbound client per purpose, each with only its own OUTBOUND_ALLOW_PRIVATE_<PURPOSE>. */
  outbound: OutboundClients;
  /** Free space where the embedded database lives (STORAGE_MIN_FREE_BYTES); off on PostgreSQL. */
  storage: StorageGuard;
}

declare module 'fastify' {
  interface FastifyInstance {
    core: Core;
  }
}

export const core = fp(
  async (app: App, options: CoreDeps & { headers: HeaderSets; drain: Drain }) => {
    const { config, logger, database, store, clock, headers, drain } = options;
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(responseSerializerCompiler);
    registerErrorHandler(app);
    drain.register(app); // the first onRequest hook
    app.server.on('checkExpectation', expectationFailedHandler(headers));
    registerJsonBody(app, config.JSON_MAX_DEPTH, CSP_REPORT_CONTENT_TYPES);
    // Security monitoring: the address block, answer counting.
    const monitoring = new Monitoring({ config, db: database.db, store, clock, logger, mailer: options.mailer });
    monitoring.registerBoundary(app);
    watchDecryption(options.encryptor, monitoring.events);
    // Before any route, so every route (and the not-found handler) is timed.
    const exposure = { token: config.METRICS_TOKEN, port: config.METRICS_PORT, host: config.METRICS_HOST };
    const metrics = options.metrics ?? new Metrics({ defaults: isExposed(exposure) });
    registerMetrics(app, metrics, exposure);
    metrics.observePool(() => database.poolStats?.()); // PGlite has no pool: the family stays empty
    const cacheStats = new CacheStats();
    metrics.observeCaches(cacheStats);

    const cookie = cookiePolicy(config.PUBLIC_URL, config.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3_600_000);
    const hardening: HardeningOptions = {
      config,
      store,
      logger,
      headers,
      isClosing: drain.isClosing,
      deprecations: options.deprecations,
      onRateLimited: (policy: string) => metrics.rateLimited.inc({ policy }),
    };
    app.addHook('onRoute', declareAccess);
    await registerBoundary(app, hardening);
    // After the IP limits, before authentication: a write that cannot be stored is refused first.
    const storage = database.dataDir
      ? StorageGuard.over({
          read: statfsReader(database.dataDir),
          minFreeBytes: config.STORAGE_MIN_FREE_BYTES,
          onReadError: (error) => logger.warn({ err: error, dataDir: database.dataDir }, 'could not measure free space under DATA_DIR; writes are not guarded'),
        })
      : StorageGuard.off();
    registerStorageGuard(app, storage);

    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Bastion API', version: '1', description: 'Self-hosted AI agent platform. Versioning policy: docs/api.md.' },
        servers: [{ url: config.PUBLIC_URL }],
        components: {
          securitySchemes: {
            sessionCookie: { type: 'apiKey', in: 'cookie', name: cookie.name, description: 'Browser session; state-changing requests also need X-CSRF-Token' },
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key (bst_key_…) or access token; needs the scope shown' },
          },
        },
      },
      transform: jsonSchemaTransform,
      transformObject: withErrorEnvelope, // 4XX/5XX: the error envelope, in the document only
    });
    await app.register(fastifyCookie);

    const outbound = createOutboundClients(config, logger);
    app.addHook('onClose', () => outbound.close());

    app.decorate('core', {
      ...options,
      db: database.db,
      cookie,
      hardening,
      monitoring,
      securityEvents: monitoring.events,
      metrics,
      cacheStats,
      outbound,
      storage,
    });
  },
  { name: 'bastion-core', fastify: '5.x' },
);
