/**
 * buildApp(deps): wires plugins and modules onto one Fastify instance.
 * serve.ts calls it with real adapters; tests call it with the harness's.
 */
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import type { App } from './http/app-type.js';
import { isUnknownVersion, type DeprecationRegistry } from './http/api-versions.js';
import { authentication, cookiePolicy } from './http/authenticate.js';
import { clientErrorHandler, Drain, expectationFailedHandler, frameworkErrorHandler } from './http/early-errors.js';
import { registerErrorHandler, sendError } from './http/errors-plugin.js';
import { withErrorEnvelope } from './http/openapi-errors.js';
import { AppError, noRoute } from './errors.js';
import { principalLimits, registerBoundary } from './http/hardening.js';
import { registerJsonBody } from './http/json-body.js';
import { requestId } from './http/request-id.js';
import { buildHeaderSets } from './http/security-headers.js';
import { lazyChildLogger } from './platform/log.js';
import { hasWebBuild, registerWebApp, sendSpaShell, WEB_BUILD_DIR, wantsSpaShell } from './http/web-app.js';
import type { AuthDeps } from './modules/auth/deps.js';
import { authRoutes } from './modules/auth/routes.js';
import { caller } from './modules/auth/caller.js';
import { LoginThrottle } from './modules/auth/throttle.js';
import { CSP_REPORT_CONTENT_TYPES, cspReportRoutes } from './modules/csp-reports/routes.js';
import { CspReportService } from './modules/csp-reports/service.js';
import { healthRoutes } from './modules/health/routes.js';
import { SessionService } from './modules/sessions/service.js';
import { UserService } from './modules/users/service.js';
import { adminUserRoutes } from './modules/users/admin-routes.js';
import { apiKeyRoutes } from './modules/api-keys/routes.js';
import { ApiKeyService } from './modules/api-keys/service.js';
import { SigningKeys } from './modules/tokens/signing-keys.js';
import { TokenService } from './modules/tokens/service.js';
import { jwksRoute, tokenRoutes } from './modules/tokens/routes.js';
import { OidcService } from './modules/oidc/service.js';
import { oidcRoutes } from './modules/oidc/routes.js';
import { declareAccess } from './http/access.js';
import { agentRoutes } from './modules/agents/routes.js';
import { AgentService } from './modules/agents/service.js';
import { Cancellations } from './modules/chat/cancellation.js';
import { chatRoutes } from './modules/chat/routes.js';
import { ChatService } from './modules/chat/service.js';
import { providerRoutes } from './modules/providers/routes.js';
import { ProviderService } from './modules/providers/service.js';
import { cacheStatsRoute } from './modules/admin/cache-routes.js';
import { CacheStatsService } from './modules/admin/cache-service.js';
import { AuditKeys } from './modules/audit/keys.js';
import { auditRoutes } from './modules/audit/routes.js';
import { AuditLog } from './modules/audit/service.js';
import { Monitoring } from './modules/monitoring/index.js';
import { alertRoutes } from './modules/monitoring/routes.js';
import { watchDecryption, watchSessionRevocations } from './modules/security-events/observers.js';
import { securityEventRoutes } from './modules/security-events/routes.js';
import { SigningSecretService } from './modules/signing-secrets/service.js';
import { ChunkEmbeddings } from './modules/knowledge/embeddings.js';
import { createPipeline, createScanners, extractLimits } from './modules/knowledge/ingestion.js';
import { KnowledgeRetrieval, type SearchHit } from './modules/knowledge/retrieval.js';
import { ProviderResolver } from './modules/providers/resolver.js';
import { knowledgeRoutes } from './modules/knowledge/routes.js';
import { KnowledgeService } from './modules/knowledge/service.js';
import { EMBED_JOB, INGEST_JOB } from './modules/knowledge/pipeline.js';
import { MemoryQueue } from './platform/queue/memory-queue.js';
import { isExposed, registerMetrics } from './http/metrics-exposure.js';
import { Metrics } from './platform/metrics/metrics.js';
import { observeProviders } from './platform/metrics/providers.js';
import type { JobQueue } from './platform/queue/queue.js';
import { createPrivacy, registerPrivacyGate } from './modules/privacy/module.js';
import { webhookRoutes } from './modules/webhooks/routes.js';
import { WebhookService } from './modules/webhooks/service.js';
import { workspaceRoutes } from './modules/workspaces/routes.js';
import { workspaceSsoRoutes } from './modules/workspaces/sso-routes.js';
import { WorkspaceSsoService } from './modules/workspaces/sso.js';
import { WorkspaceService } from './modules/workspaces/service.js';
import { workspaceContext } from './modules/workspaces/context.js';
import { UsageService } from './modules/workspaces/usage.js';
import { BreakerRegistry } from './platform/net/circuit-breaker.js';
import { guardedFetch } from './platform/net/fetch-adapter.js';
import { createOutboundClients } from './platform/net/outbound-clients.js';
import { CacheStats, JsonCache } from './platform/store/cache.js';
import { systemClock, type Clock } from './platform/clock.js';
import type { Encryptor } from './platform/crypto/envelope.js';
import type { Database, Db } from './platform/db/database.js';
import type { Mailer } from './platform/mail/mailer.js';
import type { Store } from './platform/store/store.js';

export const API_PREFIX = '/api/v1';

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
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    // Node checks header/request timeouts every connectionsCheckingInterval: keep it short.
    http: { maxHeaderSize: config.HTTP_MAX_HEADER_BYTES, connectionsCheckingInterval: 1_000 },
    trustProxy: config.TRUSTED_PROXIES ? config.TRUSTED_PROXIES.split(',').map((p) => p.trim()).filter(Boolean) : false,
    // Fastify's and Node's own early answers, and the 503 while draining, in the envelope
    // with the security headers (http/early-errors.ts); the built-in ones reflect the path.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler(headers, drain.isClosing),
    clientErrorHandler: clientErrorHandler(headers, deps.logger),
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  drain.register(app); // the first onRequest hook
  app.server.on('checkExpectation', expectationFailedHandler(headers));
  registerJsonBody(app, config.JSON_MAX_DEPTH, CSP_REPORT_CONTENT_TYPES);
  // Security monitoring: request context for events, the address block, answer counting.
  const monitoring = new Monitoring({ config, db: deps.database.db, store: deps.store, clock, logger: deps.logger, mailer: deps.mailer });
  const securityEvents = monitoring.events;
  monitoring.registerBoundary(app);
  watchDecryption(deps.encryptor, securityEvents);
  // Before any route, so every route (and the not-found handler) is timed.
  const exposure = { token: config.METRICS_TOKEN, port: config.METRICS_PORT, host: config.METRICS_HOST };
  const metrics = deps.metrics ?? new Metrics({ defaults: isExposed(exposure) });
  registerMetrics(app, metrics, exposure);
  metrics.observePool(() => deps.database.poolStats?.()); // PGlite has no pool: the family stays empty

  const cookie = cookiePolicy(config.PUBLIC_URL, config.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3_600_000);
  const hardening = {
    config,
    store: deps.store,
    logger: deps.logger,
    headers,
    isClosing: drain.isClosing,
    deprecations: deps.deprecations ?? new Map(),
    onRateLimited: (policy: string) => metrics.rateLimited.inc({ policy }),
  };
  app.addHook('onRoute', declareAccess);
  await registerBoundary(app, hardening);

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

  const sessions = new SessionService(deps.database.db, deps.store, clock, {
    idleMs: config.SESSION_IDLE_TIMEOUT_MINUTES * 60_000,
    absoluteMs: config.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3_600_000,
  });
  await app.register(fastifyCookie);
  const allowedOrigins = new Set([new URL(config.PUBLIC_URL).origin, ...config.CORS_ORIGINS.filter((o) => o !== '*')]);
  watchSessionRevocations(sessions, securityEvents);
  const users = new UserService(deps.database.db);
  // Services write the audit entry of a change in the change's own transaction.
  const audit = new AuditLog(deps.database.db, new AuditKeys(deps.database.db, deps.encryptor, clock), clock, deps.logger, {
    checkpointEvery: config.AUDIT_CHECKPOINT_EVERY,
    checkpointIntervalMs: config.AUDIT_CHECKPOINT_MINUTES * 60_000,
  });
  const apiKeys = new ApiKeyService(deps.database.db, clock, deps.store, securityEvents, users, audit);
  const signingKeys = new SigningKeys(deps.database.db, deps.encryptor, clock, config.JWT_ACCESS_TTL_SECONDS * 1000);
  const tokens = new TokenService(deps.database.db, deps.store, clock, signingKeys, { sessions, apiKeys, users }, {
    issuer: config.PUBLIC_URL,
    audience: `${config.PUBLIC_URL}/api`,
    accessTtlSeconds: config.JWT_ACCESS_TTL_SECONDS,
    refreshTtlMs: config.REFRESH_TOKEN_TTL_DAYS * 24 * 3_600_000,
  }, { db: deps.database.db, clock, logger: deps.logger, securityEvents });
  await app.register(authentication, {
    sessions,
    cookie,
    allowedOrigins,
    bearer: async (credential, ip) => {
      if (credential.startsWith('bst_key_')) return apiKeys.authenticate(credential, ip);
      if (credential.split('.').length === 3) return tokens.verify(credential, ip);
      throw new AppError('unauthenticated', 'Invalid, expired or revoked credentials.');
    },
    onFailure: (kind) => metrics.authFailures.inc({ kind }),
  });
  await app.register(principalLimits, hardening);
  // Who is calling, once per request; refuses (mfa_enrollment_required) a caller who must enrol TOTP first.
  await app.register(caller, { users, requireMfa: config.REQUIRE_MFA });
  // After the principal is known, before any route it guards: 403 consent_required until the policies in force are accepted.
  const policies = registerPrivacyGate(app, { db: deps.database.db, clock });

  const authDeps: AuthDeps = {
    db: deps.database.db,
    store: deps.store,
    clock,
    mailer: deps.mailer,
    encryptor: deps.encryptor,
    logger: deps.logger,
    sessions,
    users,
    apiKeys,
    tokens,
    throttle: new LoginThrottle(deps.store, clock, {
      threshold: config.LOCKOUT_THRESHOLD,
      lockMs: config.LOCKOUT_MINUTES * 60_000,
      perIp: 100,
      perIpAccount: 20,
      windowMs: 15 * 60_000,
    }),
    settings: {
      publicUrl: config.PUBLIC_URL,
      registration: config.REGISTRATION,
      requireEmailVerification: config.REQUIRE_EMAIL_VERIFICATION,
      requireMfa: config.REQUIRE_MFA,
      passwordMinLength: config.PASSWORD_MIN_LENGTH,
      lockoutMinutes: config.LOCKOUT_MINUTES,
    },
    onSignInFailure: (factor) => metrics.authFailures.inc({ kind: factor }),
    securityEvents,
  };
  let stopCheckpoints = (): void => undefined;
  app.addHook('onReady', async () => void (stopCheckpoints = audit.startSchedule()));
  app.addHook('onClose', async () => stopCheckpoints());
  await app.register(authRoutes(authDeps, cookie, { ssoEnabled: Boolean(config.OIDC_ISSUER && config.OIDC_CLIENT_ID && config.OIDC_CLIENT_SECRET) }), { prefix: API_PREFIX });
  await app.register(adminUserRoutes(authDeps), { prefix: API_PREFIX });
  await app.register(apiKeyRoutes(apiKeys), { prefix: API_PREFIX });
  await app.register(tokenRoutes(tokens), { prefix: API_PREFIX });
  await app.register(jwksRoute(signingKeys));

  const workspaces = new WorkspaceService(deps.database.db, clock, deps.mailer, config.PUBLIC_URL, securityEvents, users, audit);
  await app.register(workspaceContext, { workspaces });
  const usage = new UsageService(deps.database.db, clock, (workspaceId, tokens) => monitoring.spend.observe(workspaceId, tokens));
  // One client per purpose, each with only its own OUTBOUND_ALLOW_PRIVATE_<PURPOSE> allowance.
  const outbound = createOutboundClients(config, deps.logger);
  app.addHook('onClose', () => outbound.close());
  const breakers = new BreakerRegistry({ failureThreshold: config.PROVIDER_BREAKER_THRESHOLD, cooldownMs: config.PROVIDER_BREAKER_COOLDOWN_MS });
  const resolver = observeProviders(
    new ProviderResolver(deps.database.db, deps.encryptor, outbound.providers, breakers, { timeoutMs: config.PROVIDER_TIMEOUT_MS, maxRetries: config.PROVIDER_MAX_RETRIES }),
    metrics,
  );
  const providers = new ProviderService(deps.database.db, deps.encryptor, clock, workspaces, resolver, audit);
  const cacheStats = new CacheStats();
  metrics.observeCaches(cacheStats);
  const embeddings = new ChunkEmbeddings(deps.database.db, resolver);
  const retrieval = new KnowledgeRetrieval(deps.database.db, new JsonCache<SearchHit[]>(deps.store, 'retrieval', cacheStats, 60_000), embeddings, deps.logger);
  const agents = new AgentService(
    deps.database.db,
    clock,
    workspaces,
    providers,
    new JsonCache(deps.store, 'agent', cacheStats, 10 * 60_000),
    (workspaceId, ids) => retrieval.existingBases(workspaceId, ids),
    audit,
  );
  const chat = new ChatService({
    db: deps.database.db,
    encryptor: deps.encryptor,
    clock,
    logger: deps.logger,
    agents,
    providers,
    usage,
    retriever: retrieval,
    outbound: outbound.tools,
    cancellations: new Cancellations(deps.store),
    responseCache: config.LLM_CACHE_TTL_SECONDS > 0 ? new JsonCache(deps.store, 'llm', cacheStats, config.LLM_CACHE_TTL_SECONDS * 1000) : null,
  });
  await app.register(workspaceRoutes(workspaces, usage), { prefix: API_PREFIX });
  await app.register(providerRoutes(providers), { prefix: API_PREFIX });
  await app.register(agentRoutes(agents), { prefix: API_PREFIX });
  await app.register(chatRoutes(chat), { prefix: API_PREFIX });
  const webhooks = new WebhookService({
    db: deps.database.db,
    store: deps.store,
    clock,
    logger: deps.logger,
    secrets: new SigningSecretService(deps.database.db, deps.encryptor, clock),
    agents,
    workspaces,
    chat,
    outbound: outbound.webhooks,
    events: securityEvents,
  });
  await app.register(webhookRoutes(webhooks), { prefix: API_PREFIX });
  monitoring.attach(app, { outbound: outbound.webhooks, apiKeys, poolStats: () => deps.database.poolStats?.() });
  await app.register(securityEventRoutes(authDeps), { prefix: API_PREFIX });
  await app.register(alertRoutes(authDeps, monitoring.alerts, securityEvents), { prefix: API_PREFIX });

  const queue = deps.queue ?? new MemoryQueue();
  if (!deps.queue) app.addHook('onClose', () => queue.close());
  metrics.observeQueue(queue, [INGEST_JOB, EMBED_JOB]);
  const scanners = createScanners(config, deps.logger);
  const pipeline = createPipeline({ config, db: deps.database.db, encryptor: deps.encryptor, clock, logger: deps.logger, queue, scanners, embeddings, securityEvents });
  if (config.INGEST_IN_PROCESS) pipeline.start(config.INGEST_CONCURRENCY);
  if (deps.recoverIngestion) {
    app.addHook('onReady', async () => {
      const requeued = await pipeline.recover();
      if (requeued > 0) deps.logger.info({ requeued }, 'unfinished documents enqueued again');
    });
  }
  const knowledge = new KnowledgeService({
    db: deps.database.db,
    encryptor: deps.encryptor,
    clock,
    logger: deps.logger,
    workspaces,
    providers,
    scanners,
    outbound: outbound.knowledge,
    pipeline,
    embeddings,
    retrieval,
    securityEvents,
    audit,
    settings: { maxFileBytes: config.UPLOAD_MAX_BYTES, workspaceQuotaBytes: config.WORKSPACE_STORAGE_QUOTA_BYTES, extractLimits: extractLimits(config), urlTimeoutMs: 20_000 },
  });
  await app.register(knowledgeRoutes(knowledge, config.UPLOAD_MAX_BYTES), { prefix: API_PREFIX });

  const workspaceSso = new WorkspaceSsoService(deps.database.db, deps.encryptor, clock, workspaces, config.PUBLIC_URL);
  await app.register(workspaceSsoRoutes(workspaceSso), { prefix: API_PREFIX });
  // Erasure pseudonymises the user's audit entries (and records user.erased) in its own transaction.
  const pseudonymiseActor = (trx: Db, userId: string, pseudonym: string) => audit.eraseUser(trx, userId, pseudonym);
  await createPrivacy({ ...authDeps, config, encryptor: deps.encryptor, queue, policies, pseudonymiseActor }).register(app, API_PREFIX);
  const oidc = new OidcService(authDeps, {
    redirectUri: `${config.PUBLIC_URL}${API_PREFIX}/auth/oidc/callback`,
    instance:
      config.OIDC_ISSUER && config.OIDC_CLIENT_ID && config.OIDC_CLIENT_SECRET
        ? { issuer: config.OIDC_ISSUER, clientId: config.OIDC_CLIENT_ID, clientSecret: config.OIDC_CLIENT_SECRET, jitProvisioning: config.OIDC_JIT_PROVISIONING }
        : null,
    workspaceProvider: (workspaceId) => workspaceSso.provider(workspaceId),
    addMember: (workspaceId, userId, role) => workspaceSso.addMember(workspaceId, userId, role),
    guardedFetch: guardedFetch(outbound.sso, 10_000),
  });
  await app.register(oidcRoutes(oidc, cookie, config.PUBLIC_URL), { prefix: API_PREFIX });
  await app.register(cacheStatsRoute(authDeps, new CacheStatsService(cacheStats, audit)), { prefix: API_PREFIX });
  await app.register(auditRoutes(authDeps, audit), { prefix: API_PREFIX });
  await app.register(cspReportRoutes(new CspReportService(deps.database.db, clock)), { prefix: API_PREFIX });

  const health = healthRoutes({ database: deps.database, store: deps.store, timeoutMs: 2_000 });
  await app.register(health);
  await app.register(health, { prefix: API_PREFIX });
  app.get(`${API_PREFIX}/openapi.json`, { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());

  if (webRoot) await registerWebApp(app, webRoot);

  app.setNotFoundHandler(async (request, reply) => {
    if (webRoot && wantsSpaShell(request)) return sendSpaShell(reply);
    if (isUnknownVersion(request.url)) {
      return sendError(request, reply, new AppError('unknown_api_version', 'This API version does not exist; the current version is /api/v1 (see docs/api.md).'));
    }
    return sendError(request, reply, noRoute());
  });

  return app;
}
