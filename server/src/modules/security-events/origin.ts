/**
 * Where a security event came from: the address, user agent, request id and API key of
 * the request it happened in (ASVS 16.2.1). Callers hand it to `record` with the event:
 * routes from the request, services from what the route gave them (an auth context, an
 * audit actor, a workspace context).
 *
 * There is deliberately no ambient "current request" (AsyncLocalStorage): on Node 20 it
 * runs a hook on every promise the process makes, about a tenth of a signed-in read's
 * throughput (bench/results/request-context-2026-12-06.md).
 */
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/actor.js';

export interface EventOrigin {
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  requestId?: string | null | undefined;
  apiKeyId?: string | null | undefined;
}

/** The origin of an event raised while answering `request` (read after authentication, for the key). */
export function originOf(request: FastifyRequest): EventOrigin {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof agent === 'string' ? agent : null, requestId: request.id, apiKeyId: request.principal?.apiKeyId ?? null };
}

/** The origin carried by the context the sign-in services take (sessions' RequestContext). */
export function originOfContext(context: { ip: string; userAgent: string; requestId?: string | undefined }): EventOrigin {
  return { ip: context.ip, userAgent: context.userAgent || null, requestId: context.requestId ?? null };
}

/** The origin carried by an audit actor (a route's `request.actor()`). */
export function originOfActor(actor: Actor): EventOrigin {
  return { ip: actor.ip ?? null, userAgent: actor.userAgent ?? null, requestId: actor.requestId ?? null, apiKeyId: actor.keyId ?? null };
}
