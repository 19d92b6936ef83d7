/**
 * API versions and deprecation. Every route lives under /api/v1. A route (or a whole
 * version) can be marked deprecated here with dates; its responses then carry
 * `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link: <…>; rel="deprecation"`, the
 * OpenAPI operation is flagged deprecated, and calls are counted per client.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../platform/store/store.js';
import { principalOf } from './rate-limit.js';

export const CURRENT_VERSION = 'v1';
/** Where every route of the current version lives. */
export const API_PREFIX = `/api/${CURRENT_VERSION}`;
export const SUPPORTED_VERSIONS = new Set([CURRENT_VERSION]);

export interface Deprecation {
  /** When the route became deprecated. */
  since: Date;
  /** When it stops working, if decided. */
  sunset?: Date;
  /** Where the replacement is documented. */
  link: string;
}

/** `METHOD /api/v1/path` (Fastify route pattern) or a version prefix like `/api/v1` → deprecation. */
export type DeprecationRegistry = Map<string, Deprecation>;

export function deprecationFor(registry: DeprecationRegistry, method: string, url: string | undefined): Deprecation | undefined {
  if (!url) return undefined;
  return registry.get(`${method} ${url}`) ?? registry.get(url.split('/').slice(0, 3).join('/'));
}

/** onRoute hook: flags deprecated operations in the OpenAPI document. */
export function markDeprecatedRoutes(registry: DeprecationRegistry) {
  return (route: RouteOptions): void => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const deprecation = methods.map((m) => deprecationFor(registry, m, route.url)).find(Boolean);
    if (!deprecation || !route.schema) return;
    const schema = route.schema as { deprecated?: boolean; description?: string };
    schema.deprecated = true;
    schema.description =
      `${schema.description ?? ''}\n\n**Deprecated** since ${deprecation.since.toISOString().slice(0, 10)}${deprecation.sunset ? `; removed on ${deprecation.sunset.toISOString().slice(0, 10)}` : ''}. See ${deprecation.link}.`.trim();
  };
}

export function deprecationHook(registry: DeprecationRegistry, store: Store, logger: Logger) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (registry.size === 0) return;
    const deprecation = deprecationFor(registry, request.method, request.routeOptions.url);
    if (!deprecation) return;
    reply.header('deprecation', `@${Math.floor(deprecation.since.getTime() / 1000)}`);
    if (deprecation.sunset) reply.header('sunset', deprecation.sunset.toUTCString());
    reply.header('link', `<${deprecation.link}>; rel="deprecation"; type="text/html"`);
    const route = `${request.method} ${request.routeOptions.url}`;
    const count = await store.increment(`deprecated:${route}:${principalOf(request)}`, { ttlMs: 30 * 24 * 3_600_000 });
    if (count.value === 1 || count.value % 100 === 0) logger.warn({ route, principal: principalOf(request), calls: count.value }, 'deprecated route called');
  };
}

/** `/api/v2/…` or `/api/anything` that is not a supported version. */
export function isUnknownVersion(url: string): boolean {
  const match = /^\/api\/([^/?]+)/.exec(url);
  return match !== null && !SUPPORTED_VERSIONS.has(match[1]!);
}
