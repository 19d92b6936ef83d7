/**
 * The request boundary, in hook order: request-line limits, overload shedding, CORS,
 * security headers, and (after authentication) rate limits and deprecation headers.
 * Every header and limit is listed with its reason in docs/security-model.md.
 */
import fastifyCors from '@fastify/cors';
import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { App } from './app-type.js';
import type { Config } from '../config/index.js';
import type { Store } from '../platform/store/store.js';
import { deprecationHook, markDeprecatedRoutes, type DeprecationRegistry } from './api-versions.js';
import { AppError } from '../errors.js';
import { isApiRoute } from './access.js';
import { isApiPath } from './api-paths.js';
import { authorizeRequest } from './authenticate.js';
import { prepareError } from './errors-plugin.js';
import { rateLimitHook, type RateLimitPolicy } from './rate-limit.js';
import { requestLimitsHook } from './request-limits.js';
import { securityHeadersHook, type HeaderSets } from './security-headers.js';

export interface HardeningOptions {
  config: Config;
  store: Store;
  logger: Logger;
  /** The security header sets (built once; the early-error answers use the same ones). */
  headers: HeaderSets;
  /** True once the app is closing (http/early-errors.ts `Drain`). */
  isClosing: () => boolean;
  deprecations: DeprecationRegistry;
  /** Told of each 429 rate_limited refusal (metrics). */
  onRateLimited?: (policy: RateLimitPolicy) => void;
}

/** Hooks that run before authentication. */
export async function registerBoundary(app: App, options: HardeningOptions): Promise<void> {
  const { config } = options;
  app.server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
  app.addHook('onRequest', requestLimitsHook({ maxUrlLength: config.HTTP_MAX_URL_LENGTH, maxQueryParams: config.HTTP_MAX_QUERY_PARAMS }));
  // While closing, answer in-flight requests with `Connection: close` so their
  // keep-alive sockets end with the response instead of holding shutdown open.
  app.addHook('onSend', securityHeadersHook(options.headers, options.isClosing));

  if (config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS > 0 || config.OVERLOAD_MAX_HEAP_BYTES > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: config.OVERLOAD_MAX_HEAP_BYTES,
      sampleInterval: 250,
      retryAfter: 5,
      exposeStatusRoute: false,
      pressureHandler: shedRequest,
    });
  }

  const allowed = new Set(config.CORS_ORIGINS.filter((o) => o !== '*'));
  await app.register(fastifyCors, {
    // Exact allow-list; unknown origins get no CORS headers at all.
    origin: (origin, callback) => callback(null, origin !== undefined && (allowed.has(origin) || config.CORS_ORIGINS.includes('*'))),
    credentials: !config.CORS_ORIGINS.includes('*'), // never `*` with credentials
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['content-type', 'authorization', 'x-csrf-token', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'ratelimit', 'ratelimit-policy', 'retry-after', 'deprecation', 'sunset', 'link'],
    maxAge: 600,
    strictPreflight: true,
  });

  app.addHook('onRoute', markDeprecatedRoutes(options.deprecations));
  // Handler timeout on API routes (a route may set its own); static files and probes need none.
  app.addHook('onRoute', (route) => {
    if (isApiPath(route.url) && route.handlerTimeout === undefined) route.handlerTimeout = config.HTTP_HANDLER_TIMEOUT_MS;
  });
}

/**
 * The overload guard's answer: 503 `service_unavailable` in the envelope, valid under every
 * documented 503 (/readyz's included). It returns the body rather than sending it: under-pressure
 * sends a returned value other than a promise or nullish and stops the request there (its
 * README, "pressureHandler"; its types say void). A handler that sends and returns nothing
 * lets the request go on with next(): while an onSend step of the shed answer was still
 * pending, the route's handler ran anyway and its answer met the route's 503 schema — an
 * overloaded /readyz answered 500 (ResponseSerializationError).
 */
const shedRequest = ((request: FastifyRequest, reply: FastifyReply): string | undefined =>
  neverShed(request) ? undefined : prepareError(request, reply, new AppError('service_unavailable', 'The server is overloaded; retry shortly.'))) as unknown as PressureHandler;

const PROBES = new Set(['/readyz', '/healthz']);

/**
 * Requests the guard lets through even while shedding (returning nothing lets them go on):
 * the web app's own files (a page with one script refused is a broken page, and they are
 * served from memory or disk without touching the database), GET /auth/csrf (every form of
 * a loaded page needs it, and it costs one HMAC), and uploads, whose body is already on its
 * way: refusing one after megabytes arrived wastes them and the retry sends them again. Uploads
 * stay bounded by their own limits (size, rate limit, quota). Probes are still shed, so an
 * orchestrator sees the overload.
 */
export function neverShed(request: Pick<FastifyRequest, 'method' | 'url' | 'headers'>): boolean {
  const path = request.url.split('?', 1)[0]!;
  if (!isApiPath(path)) return !PROBES.has(path); // the OpenAI-compatible /v1 is API: shed like it
  if (request.method === 'GET' && path === '/api/v1/auth/csrf') return true;
  return request.method === 'POST' && /^multipart\/form-data/i.test(request.headers['content-type'] ?? '');
}

type PressureHandler = NonNullable<FastifyUnderPressureOptions['pressureHandler']>;

/** Hooks that need the authenticated principal: rate limits, then the route's access, then deprecation headers. */
export const principalLimits = fp(async (app: App, options: HardeningOptions) => registerPrincipalLimits(app, options), {
  name: 'principal-limits',
  fastify: '5.x',
  dependencies: ['authentication'],
});

function registerPrincipalLimits(app: App, options: HardeningOptions): void {
  const limit = rateLimitHook(options.store, options.config.RATE_LIMIT_SCALE, options.onRateLimited);
  const deprecate = deprecationHook(options.deprecations, options.store, options.logger);
  // Callback style so non-API requests (assets, pages) cost no promise.
  app.addHook('onRequest', (request, reply, done) => {
    if (!isApiRoute(request)) return done();
    limit(request, reply)
      .then(() => authorizeRequest(request))
      .then(() => deprecate(request, reply))
      .then(() => done(), done);
  });
}
