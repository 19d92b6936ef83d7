/**
 * What the monitor learns from answers (an onResponse hook, after the reply is sent):
 * per-principal counts for the enumeration (403/404 bursts), request-volume and
 * error-ratio rules, and sampled events for 429 and CSRF/CORS refusals — at most one
 * event per principal and kind per minute, so a flood does not write a row per request.
 * Counters here are fixed windows, summed in memory and written once per key every 100 ms
 * (batched-counter.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isApiPath } from '../../http/api-paths.js';
import { errorCodeOf } from '../../http/errors-plugin.js';
import type { Clock } from '../../platform/clock.js';
import type { Store } from '../../platform/store/store.js';
import type { SecurityEventSink } from '../security-events/service.js';
import { BatchedCounter } from './batched-counter.js';
import type { Detector } from './detector.js';

export interface TrafficThresholds {
  windowMs: number;
  /** 0: off */
  enumeration: number;
  /** 0: off */
  volume: number;
  /** 0: off */
  errorRatio: number;
  errorMin: number;
}

export interface TrafficDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  events: SecurityEventSink;
  detector: Detector;
  thresholds: TrafficThresholds;
  /** Origins allowed to call the API from a browser (PUBLIC_URL's and CORS_ORIGINS). */
  allowedOrigins: Set<string>;
  anyOrigin: boolean;
}

/** Who made the request: an API key, a user, else the address. */
export function principalKey(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.apiKeyId) return `key:${principal.apiKeyId}`;
  if (principal) return `user:${principal.userId}`;
  return `ip:${request.ip}`;
}

/**
 * The onResponse hook, and `settle` for the app's close: observations run after the answer
 * is sent, so the last answers' counts are still being written when the server has drained.
 */
export function trafficObserver(deps: TrafficDeps, flushMs?: number) {
  const counts = new BatchedCounter(deps.store, flushMs);
  const running = new Set<Promise<void>>();
  const hook = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    done();
    if (!isApiPath(request.url)) return;
    const observation = observe(deps, counts, request, reply)
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'traffic monitoring failed'))
      .finally(() => running.delete(observation));
    running.add(observation);
  };
  /** Writes the pending counts now and waits for every observation started (each may count up to three keys, one after another). */
  const settle = async (): Promise<void> => {
    while (running.size > 0) {
      const batch = [...running];
      void counts.flush();
      await Promise.allSettled(batch);
    }
  };
  return { hook, settle };
}

async function observe(deps: TrafficDeps, counts: BatchedCounter, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const status = reply.statusCode;
  const code = errorCodeOf(request);
  if (code === 'ip_blocked') return; // already answered by a block; counting it again costs store calls for nothing
  const principal = principalKey(request);
  const route = request.routeOptions.url ?? 'unmatched';
  const base = { userId: request.principal?.userId ?? null, apiKeyId: request.principal?.apiKeyId ?? null, ip: request.ip, requestId: request.id, userAgent: headerOf(request, 'user-agent') };
  if (status === 429) {
    const policy = /^"([a-z-]+)"/.exec(String(reply.getHeader('ratelimit-policy') ?? ''))?.[1];
    await deps.events.recordSampled({ ...base, type: 'http.rate_limited', details: { code: code ?? 'rate_limited', method: request.method, route, ...(policy ? { policy } : {}) } }, `${principal}:429`);
  }
  const origin = headerOf(request, 'origin');
  if (code === 'csrf_failed') {
    await deps.events.recordSampled({ ...base, type: 'http.csrf_refused', details: { method: request.method, route, ...(origin ? { origin } : {}) } }, `${principal}:csrf`);
  }
  if (origin && !deps.anyOrigin && !deps.allowedOrigins.has(origin)) {
    await deps.events.recordSampled({ ...base, type: 'http.cors_refused', details: { origin, method: request.method, route } }, `${principal}:cors:${origin}`);
  }
  await count(deps, counts, request, principal, status);
}

async function count(deps: TrafficDeps, counts: BatchedCounter, request: FastifyRequest, principal: string, status: number): Promise<void> {
  const t = deps.thresholds;
  const bucket = Math.floor(deps.clock.now().getTime() / t.windowMs);
  const key = (name: string) => `mon:t:${name}:${principal}:${bucket}`;
  const ttlMs = t.windowMs * 2;
  const seconds = Math.round(t.windowMs / 1000);
  const ipTarget = principal.startsWith('ip:') ? { ip: request.ip } : undefined;
  if (t.volume > 0 || t.errorRatio > 0) {
    const requests = await counts.add(key('req'), ttlMs);
    if (t.volume > 0 && requests >= t.volume) {
      await deps.detector.fire('request_volume', principal, t.windowMs, 'warning', { requests, threshold: t.volume, windowSeconds: seconds }, ipTarget);
    }
    if (t.errorRatio > 0 && status >= 400) {
      const errors = await counts.add(key('err'), ttlMs);
      if (errors >= t.errorMin && errors / requests >= t.errorRatio) {
        await deps.detector.fire('error_ratio', principal, t.windowMs, 'warning', { errors, requests, ratio: Math.round((errors / requests) * 100) / 100, windowSeconds: seconds });
      }
    }
  }
  if (t.enumeration > 0 && (status === 403 || status === 404)) {
    const misses = await counts.add(key('enum'), ttlMs);
    if (misses >= t.enumeration) {
      await deps.detector.fire('enumeration', principal, t.windowMs, 'warning', { responses: misses, threshold: t.enumeration, windowSeconds: seconds }, ipTarget);
    }
  }
}

function headerOf(request: FastifyRequest, name: string): string | null {
  const value = request.headers[name];
  return typeof value === 'string' ? value : null;
}
