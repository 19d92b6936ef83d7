/**
 * buildApp(deps): the composition root. It creates the Fastify instance and registers the
 * compose/ plugins in dependency order — each is named and declares what it needs, so a
 * plugin registered too early fails at start instead of running with a hook missing:
 *
 *   core → accounts → workspaces → providers → knowledge → agents-chat → monitoring, privacy
 *
 * then health, the OpenAPI document, the web app and the not-found answer. serve.ts calls
 * it with real adapters; tests call it with the harness's.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { AccessLog } from './http/access-log.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { accounts } from './compose/accounts.js';
import { agentsChat } from './compose/agents-chat.js';
import { core } from './compose/core.js';
import { knowledge } from './compose/knowledge.js';
import { monitoring } from './compose/monitoring.js';
import { privacy } from './compose/privacy.js';
import { providers } from './compose/providers.js';
import { workspaces } from './compose/workspaces.js';
import type { Config } from './config/index.js';
import { AppError, noRoute } from './errors.js';
import { API_PREFIX, isUnknownVersion, type DeprecationRegistry } from './http/api-versions.js';
import type { App } from './http/app-type.js';
import { clientErrorHandler, Drain, frameworkErrorHandler } from './http/early-errors.js';
import { sendError } from './http/errors-plugin.js';
import { requestId } from './http/request-id.js';
import { buildHeaderSets } from './http/security-headers.js';
import { hasWebBuild, registerApiReference, registerWebApp, sendSpaShell, WEB_BUILD_DIR, wantsSpaShell } from './http/web-app.js';
import { healthRoutes } from './modules/health/routes.js';
import { systemClock, type Clock } from './platform/clock.js';
import type { Encryptor } from './platform/crypto/envelope.js';
import type { Database } from './platform/db/database.js';
import type { Mailer } from './platform/mail/mailer.js';
import { lazyChildLogger } from './platform/log.js';
import type { Metrics } from './platform/metrics/metrics.js';
import type { JobQueue } from './platform/queue/queue.js';
import type { Store } from './platform/store/store.js';

/** How long /healthz and /readyz wait for each dependency before calling it down. */
export const HEALTH_CHECK_TIMEOUT_MS = 2_000;

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: Database;
  store: Store;
  /** Envelope encryption for secrets and content at rest; modules take it from here. */
  encryptor: Encryptor;
  mailer: Mailer;
  clock?: Clock;
  /** Directory of the built web app; `null` serves no web app. Defaults to web/build when present. */
  webRoot?: string | null;
  /** Deprecated routes or versions (see http/api-versions.ts). */
  deprecations?: DeprecationRegistry;
  /** The job queue (BullMQ on Redis, or in-process); default: a new in-process queue owned by the app. */
  queue?: JobQueue;
  /** Re-enqueue documents left unfinished by a previous stop, when the app is ready (`bastion serve`). */
  recoverIngestion?: boolean;
  /** Prometheus registry and metrics; default: new ones owned by this app (one registry per app instance). */
  metrics?: Metrics;
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const webRoot = deps.webRoot === undefined ? (hasWebBuild(WEB_BUILD_DIR) ? WEB_BUILD_DIR : null) : deps.webRoot;
  const headers = buildHeaderSets({ publicUrl: config.PUBLIC_URL, hstsPreload: config.HSTS_PRELOAD, webRoot });
  const drain = new Drain();
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestId,
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger as Logger, bindings, options),
    logController: new AccessLog({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    // Node checks header/request timeouts every connectionsCheckingInterval: keep it short.
    http: { maxHeaderSize: config.HTTP_MAX_HEADER_BYTES, connectionsCheckingInterval: 1_000 },
    trustProxy: config.TRUSTED_PROXIES
      ? config.TRUSTED_PROXIES.split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : false,
    // Fastify's and Node's own early answers, and the 503 while draining, in the envelope
    // with the security headers (http/early-errors.ts); the built-in ones reflect the path.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler(headers, drain.isClosing),
    clientErrorHandler: clientErrorHandler(headers, deps.logger),
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();

  await app.register(core, {
    config,
    logger: deps.logger,
    database: deps.database,
    store: deps.store,
    encryptor: deps.encryptor,
    mailer: deps.mailer,
    clock,
    deprecations: deps.deprecations ?? new Map(),
    metrics: deps.metrics,
    headers,
    drain,
  });
  await app.register(accounts);
  await app.register(workspaces);
  await app.register(providers);
  await app.register(knowledge, { queue: deps.queue, recoverIngestion: deps.recoverIngestion });
  await app.register(agentsChat);
  await app.register(monitoring);
  await app.register(privacy);

  const health = healthRoutes({ database: deps.database, store: deps.store, encryptor: deps.encryptor, logger: deps.logger, storage: app.core.storage, timeoutMs: HEALTH_CHECK_TIMEOUT_MS });
  await app.register(health);
  await app.register(health, { prefix: API_PREFIX });
  app.get(`${API_PREFIX}/openapi.json`, { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());

  if (webRoot) {
    await registerWebApp(app, webRoot);
    registerApiReference(app, webRoot);
  }

  app.setNotFoundHandler(async (request, reply) => {
    if (webRoot && wantsSpaShell(request)) return sendSpaShell(reply);
    if (isUnknownVersion(request.url)) {
      return sendError(request, reply, new AppError('unknown_api_version', 'This API version does not exist; the current version is /api/v1 (see docs/api.md).'));
    }
    return sendError(request, reply, noRoute());
  });

  return app;
}
