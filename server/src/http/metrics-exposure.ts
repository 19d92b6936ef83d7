/**
 * Recording HTTP latency and serving GET /metrics — never public by default:
 *
 * - METRICS_TOKEN: /metrics on the main port answers only `Authorization: Bearer <token>`
 *   (constant-time comparison; 401 otherwise).
 * - METRICS_PORT: a second listener on METRICS_HOST (default 127.0.0.1) serves only
 *   /metrics; it also asks for the token when one is set.
 * - Neither: /metrics answers 404, and no request is timed.
 */
import http from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors-plugin.js';
import { AppError, noRoute } from '../errors.js';
import { requestId } from './request-id.js';
import { constantTimeEqual } from '../platform/crypto/tokens.js';
import type { Metrics } from '../platform/metrics/metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` keeps the route out of the HTTP latency histogram (the /metrics route itself). */
    metrics?: false;
  }
}

export interface MetricsExposure {
  token: string | undefined;
  port: number | undefined;
  host: string;
}

/** Label of requests that matched no route (404s, scanners): one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export function isExposed(exposure: MetricsExposure): boolean {
  return exposure.token !== undefined || exposure.port !== undefined;
}

/**
 * Times every request by route pattern (`/api/v1/agents/:id`, never the raw URL), method
 * and status class, and adds GET /metrics. Register before any route so all routes and the
 * not-found handler carry the hook.
 */
export function registerMetrics(app: FastifyInstance, metrics: Metrics, exposure: MetricsExposure): void {
  if (isExposed(exposure)) {
    // Callback style: an async hook costs a promise per request.
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions; // a getter that builds an object: read it once
      if (route.config?.metrics !== false) {
        metrics.httpDuration.observe(
          {
            route: route.url ?? UNMATCHED_ROUTE,
            method: METHODS.has(request.method) ? request.method : 'OTHER',
            status_class: STATUS_CLASSES[Math.floor(reply.statusCode / 100) - 1] ?? 'other',
          },
          reply.elapsedTime / 1000,
        );
      }
      done();
    });
  }

  app.get('/metrics', { config: { access: 'public', rateLimit: false, metrics: false }, schema: { hide: true } }, async (request, reply) => {
    // Without a token the main port never serves metrics (the internal port may).
    if (exposure.token === undefined) return sendError(request, reply, noRoute());
    if (!authorized(request.headers.authorization, exposure.token)) return refuse(request, reply);
    const { contentType, body } = await metrics.text();
    return reply.header('cache-control', 'no-store').type(contentType).send(body);
  });

  if (exposure.port !== undefined) {
    const server = internalServer(metrics, exposure.token);
    app.addHook('onReady', async () => {
      await listen(server, exposure.port!, exposure.host);
      app.log.info({ host: exposure.host, port: exposure.port }, 'metrics listening');
    });
    app.addHook('onClose', () => close(server));
  }
}

function authorized(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  return match !== null && constantTimeEqual(match[1]!, token);
}

function refuse(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.header('www-authenticate', 'Bearer realm="metrics"');
  return sendError(request, reply, new AppError('unauthenticated', 'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.'));
}

/** The second listener: GET /metrics and nothing else, no app hooks, no cookies. */
function internalServer(metrics: Metrics, token: string | undefined): http.Server {
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    const answer = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify({ error: { code, message, requestId: requestId(req) } }));
    };
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.url?.split('?')[0] !== '/metrics') {
      return answer(404, 'not_found', 'This listener serves only GET /metrics.');
    }
    if (token !== undefined && !authorized(req.headers.authorization, token)) {
      return answer(401, 'unauthenticated', 'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.', { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    metrics.text().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => answer(500, 'internal_error', 'Collecting metrics failed.'),
    );
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
