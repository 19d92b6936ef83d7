/**
 * Rate limiting per principal and per endpoint class, atomically in the store (GCRA in
 * Redis via Lua, so limits hold across API instances). Policies live here, in one place.
 * Every limited response carries the IETF RateLimit-Policy / RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers); refusals are 429 rate_limited with Retry-After.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../platform/store/store.js';
import { retryLater } from '../errors.js';
import { isApiRoute } from './access.js';

export const RATE_LIMIT_POLICIES = {
  /** Sign-in, registration, resets: strict (the auth throttles add per-account limits). */
  auth: { limit: 20, windowMs: 60_000 },
  /** The live password-strength meter (debounced keystrokes): its own budget, so typing never uses up sign-in attempts. */
  'password-check': { limit: 60, windowMs: 60_000 },
  /** Chat messages and uploads (their issues): moderate. */
  chat: { limit: 60, windowMs: 60_000 },
  upload: { limit: 30, windowMs: 60_000 },
  /** Other state changes. */
  write: { limit: 120, windowMs: 60_000 },
  /** Reads: generous. */
  read: { limit: 600, windowMs: 60_000 },
  /** Browser reports (CSP): per IP, small. */
  report: { limit: 30, windowMs: 60_000 },
} as const;

export type RateLimitPolicy = keyof typeof RATE_LIMIT_POLICIES;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Endpoint class for rate limiting; `false` exempts the route (health probes). */
    rateLimit?: RateLimitPolicy | false;
  }
}

/**
 * Who is asking: the authenticated user — by cookie, API key or access token alike, so a
 * key's requests spend its user's budget wherever they come from and never a neighbour's
 * on the same address — else the client IP (from trusted proxies only).
 */
export function principalOf(request: FastifyRequest): string {
  return request.principal ? `u:${request.principal.userId}` : `ip:${request.ip}`;
}

/** `onLimited` is told of each refusal (the rate-limit counter in metrics). */
export function rateLimitHook(store: Store, scale = 1, onLimited?: (policy: RateLimitPolicy) => void) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!isApiRoute(request)) return;
    const configured = request.routeOptions.config?.rateLimit;
    if (configured === false || !request.routeOptions.url) return; // exempt, or no route (404)
    const name: RateLimitPolicy = configured ?? (request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write');
    const base = RATE_LIMIT_POLICIES[name];
    const policy = { limit: Math.max(1, Math.round(base.limit * scale)), windowMs: base.windowMs };
    const decision = await store.consumeRate(`rl:${name}:${principalOf(request)}`, policy.limit, policy.windowMs);
    const windowS = policy.windowMs / 1000;
    reply.header('ratelimit-policy', `"${name}";q=${policy.limit};w=${windowS}`);
    reply.header('ratelimit', `"${name}";r=${decision.remaining};t=${Math.ceil(decision.resetMs / 1000)}`);
    if (!decision.allowed) {
      onLimited?.(name);
      throw retryLater('rate_limited', (wait) => `Too many requests; slow down and try again ${wait}.`, decision.retryAfterMs);
    }
  };
}
