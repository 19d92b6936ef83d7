/**
 * The caller plugin: who is asking, resolved once per request. After authentication (the
 * principal) and the principal limits (rate limit, the route's access), it loads the
 * caller's account once when a route asks for it, enforces the MFA gate (mfa-gate.ts) on
 * the account's cached gate state, and gives every route the same three questions:
 *
 * - `request.callerId()`: the user id of the principal, or 401;
 * - `request.callerUser()`: the user's row, loaded at most once per request;
 * - `request.requireAdmin(what)`: the row, or 403 unless the user is an administrator.
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';
import type { App } from '../../http/app-type.js';
import { ACCOUNT_DISABLED_MESSAGE, assertEnabled } from '../users/disabled.js';
import type { GateState } from '../users/gate-state.js';
import type { UserRow, UserService } from '../users/service.js';
import { mfaGateHook, type RequireMfa } from './mfa-gate.js';

declare module 'fastify' {
  interface FastifyRequest {
    callerId(): string;
    callerUser(): Promise<UserRow>;
    requireAdmin(what: string): Promise<UserRow>;
    /** The caller's user row once loaded this request (by callerUser or requireAdmin). */
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
    const gateState = async (request: FastifyRequest): Promise<GateState> => {
      const state = await options.users.gateState(request.callerId());
      if (!state) throw new AppError('unauthenticated', 'Sign in first.');
      if (state.disabled) throw new AppError('account_disabled', ACCOUNT_DISABLED_MESSAGE);
      return state;
    };
    app.addHook('onRequest', mfaGateHook(options.requireMfa, gateState));
  },
  { name: 'bastion-caller', fastify: '5.x', dependencies: ['authentication', 'principal-limits'] },
);
