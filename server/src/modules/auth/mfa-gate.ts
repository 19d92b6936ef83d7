/**
 * The MFA gate: under REQUIRE_MFA, a user who must enrol TOTP and has not yet may only
 * enrol, read who they are, read and accept the policies in force, and sign out — on
 * every route, by cookie, API key or access token alike (a key or token made before the
 * rule applied included). Deny by default: the exemptions are the short list below, and
 * routes anyone may call (`access: 'public'`) need no identity, so the gate skips them —
 * unless they act as the caller when one is identified (`actsAsCaller`, e.g. POST /auth/token).
 *
 * The caller plugin (caller.ts) registers the gate. It decides on the account's gate state
 * (role, TOTP, disabled), cached per user across requests (users/gate-state.ts), not on a
 * users row read per request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isApiRoute } from '../../http/access.js';
import { AppError } from '../../errors.js';
import type { GateState } from '../users/gate-state.js';

export type RequireMfa = 'none' | 'admins' | 'all';

/** What an un-enrolled user may still do. Method and route pattern, as Fastify names them. */
export const MFA_EXEMPT: ReadonlySet<string> = new Set([
  'GET /api/v1/me',
  'POST /api/v1/auth/mfa/totp/setup',
  'POST /api/v1/auth/mfa/totp/confirm',
  'GET /api/v1/auth/csrf',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/logout-all',
  // Accepting the policies in force may be asked first (the consent gate); it must not lock the person out.
  'POST /api/v1/me/policies/accept',
]);

export function mfaEnrollmentRequired(requireMfa: RequireMfa, user: Pick<GateState, 'totpEnabled' | 'role'>): boolean {
  if (user.totpEnabled) return false;
  return requireMfa === 'all' || (requireMfa === 'admins' && user.role === 'admin');
}

export const MFA_ENROLLMENT_MESSAGE = 'Set up two-factor authentication before continuing (POST /api/v1/auth/mfa/totp/setup); until then only enrolment, GET /api/v1/me and sign-out work.';

function routeOf(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? ''}`;
}

/** The gate as an onRequest hook; `gateState` gives the caller's state (or throws). Registered by the caller plugin. */
export function mfaGateHook(requireMfa: RequireMfa, gateState: (request: FastifyRequest) => Promise<GateState>) {
  // Callback style: the requests it does not concern (most, with REQUIRE_MFA=none all) cost no promise.
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    if (requireMfa === 'none') return done();
    const config = request.routeOptions.config;
    if (!isApiRoute(request) || !request.principal || (config?.access === 'public' && !config.actsAsCaller)) return done();
    gateState(request).then((state) => {
      if (mfaEnrollmentRequired(requireMfa, state) && !MFA_EXEMPT.has(routeOf(request))) return done(new AppError('mfa_enrollment_required', MFA_ENROLLMENT_MESSAGE));
      done();
    }, done);
  };
}
