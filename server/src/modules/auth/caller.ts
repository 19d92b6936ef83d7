/**
 * The caller plugin: who is asking, resolved once per request. After authentication (the
 * principal) and the principal limits (rate limit, the route's access), it loads the
 * caller's account once — enforcing the MFA gate on the way (mfa-gate.ts) — and gives
 * every route the same three questions:
 *
 * - `request.callerId()`: the user id of the principal, or 401;
 * - `request.callerUser()`: the user's row, loaded at most once per request;
 * - `request.requireAdmin(what)`: the row, or 403 unless the user is an administrator.
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';
import type { App } from '../../http/app-type.js';
import { assertEnabled } from '../users/disabled.js';
import type { UserRow, UserService } from '../users/service.js';
import { mfaGateHook, type RequireMfa } from './mfa-gate.js';

declare module 'fastify' {
  interface FastifyRequest {
    callerId(): string;
    callerUser(): Promise<UserRow>;
    requireAdmin(what: string): Promise<UserRow>;
    /** The caller's user row once loaded this request (by the MFA gate or callerUser). */
    callerRow?: UserRow;
  }
}

export interface CallerOptions {
  users: UserService;
  requireMfa: RequireMfa;
}

function callerId(this: FastifyRequest): string {
  if (!this.principal) throw new AppError('unauthenticated', 'Sign in or send credentials (Authorization: Bearer …).');
  return this.principal.userId;
}

export const caller = fp(
  async (app: App, options: CallerOptions) => {
    const load = async (request: FastifyRequest): Promise<UserRow> => {
      const id = request.callerId();
      if (request.callerRow?.id === id) return request.callerRow;
      const user = await options.users.byId(id);
      if (!user) throw new AppError('unauthenticated', 'Sign in first.');
      assertEnabled(user); // belt and braces: disabling also revokes every credential of the account
      request.callerRow = user;
      return user;
    };
    app.decorateRequest('callerId', callerId);
    app.decorateRequest('callerUser', function (this: FastifyRequest) {
      return load(this);
    });
    app.decorateRequest('requireAdmin', async function (this: FastifyRequest, what: string) {
      const user = await load(this);
      if (user.role !== 'admin') throw new AppError('forbidden', `Only administrators can ${what}.`);
      return user;
    });
    app.addHook('onRequest', mfaGateHook(options.requireMfa, load));
  },
  { name: 'bastion-caller', fastify: '5.x', dependencies: ['authentication', 'principal-limits'] },
);
