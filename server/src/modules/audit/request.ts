/**
 * The audit-actor plugin: who acts, for an audit entry. `request.actor()` gives the
 * principal (user, or API key and its owner), the address and the request id; routes
 * pass it to the service method that makes the change, and the service writes the entry
 * in the change's own transaction (service.ts).
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { App } from '../../http/app-type.js';
import type { Actor } from './actor.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The actor of this request for the audit log (`system` when no principal). */
    actor(): Actor;
  }
}

function actor(this: FastifyRequest): Actor {
  const principal = this.principal;
  return {
    type: principal?.kind === 'api_key' ? 'api_key' : principal ? 'user' : 'system',
    userId: principal?.userId ?? null,
    keyId: principal?.apiKeyId ?? null,
    ip: this.ip,
    requestId: this.id,
    userAgent: typeof this.headers['user-agent'] === 'string' ? this.headers['user-agent'] : null,
  };
}

export const auditActor = fp(
  async (app: App) => {
    app.decorateRequest('actor', actor);
  },
  { name: 'audit-actor', fastify: '5.x', dependencies: ['authentication'] },
);
