/** Who/where/which request, taken from an authenticated request for an audit entry. */
import type { FastifyRequest } from 'fastify';
import type { Actor } from './actor.js';

/** The actor, IP and request id of a request whose route declared a scope (so it has a principal). */
export function requestActor(request: FastifyRequest): Actor {
  const principal = request.principal;
  return {
    type: principal?.kind === 'api_key' ? 'api_key' : principal ? 'user' : 'system',
    userId: principal?.userId ?? null,
    keyId: principal?.apiKeyId ?? null,
    ip: request.ip,
    requestId: request.id,
  };
}
