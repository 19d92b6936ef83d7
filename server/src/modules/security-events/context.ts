/**
 * The current request, for events raised deep inside services (a sign-in failure, a
 * permission refusal): who/where/which request is filled in from here, so call sites
 * need not thread the request through (ASVS 16.2.1).
 *
 * The store is entered in the first onRequest hook and re-entered in preValidation:
 * a parsed body resumes in the socket's async context, not the hook's (the approach of
 * @fastify/request-context).
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface RequestMeta {
  ip: string;
  userAgent: string | null;
  requestId: string;
  /** Read late: the principal is resolved after the context is entered. */
  apiKeyId(): string | null;
}

const storage = new AsyncLocalStorage<RequestMeta>();
const RESOURCE = Symbol('bastion.requestContext');

export function metaOf(request: FastifyRequest): RequestMeta {
  const agent = request.headers['user-agent'];
  return {
    ip: request.ip,
    userAgent: typeof agent === 'string' ? agent : null,
    requestId: request.id,
    apiKeyId: () => request.principal?.apiKeyId ?? null,
  };
}

export function currentRequest(): RequestMeta | undefined {
  return storage.getStore();
}

/** Register before other hooks so every later hook and handler runs inside the context. */
export function registerRequestContext(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    storage.run(metaOf(request), () => {
      (request as unknown as Record<symbol, AsyncResource>)[RESOURCE] = new AsyncResource('bastion-request');
      done();
    });
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const resource = (request as unknown as Record<symbol, AsyncResource | undefined>)[RESOURCE];
    if (resource) resource.runInAsyncScope(done, request.raw);
    else done();
  });
}
