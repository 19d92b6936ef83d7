/**
 * Refuses changes while the embedded database's disk is nearly full: POST, PUT, PATCH and
 * DELETE answer 507 `insufficient_storage` before any work (platform/storage/free-space.ts
 * says why). Reads keep working, and so do the routes marked `lowStorage: 'allow'` —
 * signing in and out, tokens, ending sessions: small writes people need to reach their
 * data or to lock out an intruder, which the threshold's margin absorbs.
 */
import type { FastifyRequest } from 'fastify';
import type { StorageGuard } from '../platform/storage/free-space.js';
import type { App } from './app-type.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `'allow'`: served even while free space under DATA_DIR is below STORAGE_MIN_FREE_BYTES. */
    lowStorage?: 'allow';
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** True when the guard applies: a state-changing method on a route not marked `lowStorage: 'allow'`. */
export function isGuardedWrite(request: Pick<FastifyRequest, 'method' | 'is404' | 'routeOptions'>): boolean {
  if (!STATE_CHANGING.has(request.method) || request.is404) return false;
  return request.routeOptions.config?.lowStorage !== 'allow';
}

/** onRequest, before the body is read: an upload is refused without being received. Callback style: reads cost no promise. */
export function registerStorageGuard(app: App, guard: StorageGuard): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isGuardedWrite(request)) return done();
    guard.assertWritable().then(() => done(), done);
  });
}
