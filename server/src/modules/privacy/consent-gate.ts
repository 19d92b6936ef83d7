/**
 * The consent gate: once a privacy policy or terms are published, a signed-in user who
 * has not accepted the version in force gets 403 `consent_required` everywhere except
 * the routes below — reading who they are, accepting, exporting or deleting their data,
 * and signing out (accepting must never be the price of leaving).
 * Registration must name the versions in force; they are recorded for the new account.
 */
import type { FastifyRequest } from 'fastify';
import { isApiRoute } from '../../http/access.js';
import { AppError } from '../../errors.js';
import type { App } from '../../http/app-type.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import { normalizeEmail } from '../users/email.js';
import type { PolicyService, PolicyVersion } from './policies.js';

export const CONSENT_EXEMPT = new Set([
  'GET /api/v1/me',
  'DELETE /api/v1/me',
  'POST /api/v1/me/erasure/cancel',
  'POST /api/v1/me/export',
  'GET /api/v1/me/exports',
  'POST /api/v1/me/exports/:id/download',
  'GET /api/v1/me/consents',
  'PUT /api/v1/me/consents',
  'POST /api/v1/me/policies/accept',
  'GET /api/v1/privacy/policies',
  'POST /api/v1/admin/policies', // publishing a correction never waits on accepting the text it replaces
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/logout-all',
  'GET /api/v1/auth/csrf',
]);

const REGISTER_URL = '/api/v1/auth/register';
const NEW_ACCOUNT_MS = 5 * 60_000;

function routeOf(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? ''}`;
}

function describe(pending: PolicyVersion[]): string {
  return pending.map((p) => `${p.kind} version ${p.version}`).join(' and ');
}

interface RegisterBody {
  email?: unknown;
  acceptedPolicies?: { kind: string; version: number }[];
}

function isRegistration(request: FastifyRequest): boolean {
  return request.method === 'POST' && request.routeOptions.url === REGISTER_URL;
}

/** The gate's three hooks run on every request: callback style, so the many they do not concern cost no promise. */
export function registerConsentGate(app: App, policies: PolicyService, db: Db, clock: Clock): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isApiRoute(request) || !request.principal || CONSENT_EXEMPT.has(routeOf(request))) return done();
    policies.pending(request.principal.userId).then((pending) => {
      if (pending.length === 0) return done();
      done(new AppError('consent_required', `Accept the ${describe(pending)} first: read them at GET /api/v1/privacy/policies, then POST /api/v1/me/policies/accept.`));
    }, done);
  });

  // Sign-up: the body must accept the versions in force (checked after validation).
  app.addHook('preHandler', (request, _reply, done) => {
    if (!isRegistration(request)) return done();
    policies.currentVersions().then((current) => {
      const accepted = (request.body as RegisterBody | undefined)?.acceptedPolicies ?? [];
      const missing = current.filter((p) => !accepted.some((a) => a.kind === p.kind && a.version === p.version));
      if (missing.length === 0) return done();
      done(new AppError('consent_required', `Creating an account needs acceptance of the ${describe(missing)}: send them in acceptedPolicies (GET /api/v1/privacy/policies).`));
    }, done);
  });

  // Registration answers 202 whether or not the address was new (no enumeration): record
  // the acceptance only for an account created just now that has none yet. Before the
  // answer leaves (onSend), so a client that signs in next finds it recorded.
  const recordAcceptance = async (request: FastifyRequest, body: RegisterBody & { email: string }): Promise<void> => {
    const user = await db
      .selectFrom('users')
      .select('id')
      .where('email', '=', normalizeEmail(body.email))
      .where('created_at', '>', new Date(clock.now().getTime() - NEW_ACCOUNT_MS))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('policy_acceptances as a').select('a.user_id').whereRef('a.user_id', '=', 'users.id'))))
      .executeTakeFirst();
    if (!user) return;
    const current = await policies.currentVersions();
    const accepted = current.filter((p) => body.acceptedPolicies!.some((a) => a.kind === p.kind && a.version === p.version));
    await policies.accept(user.id, accepted).catch((error: unknown) => request.log.warn({ err: error }, 'policy acceptance at registration not recorded'));
  };
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!isRegistration(request) || reply.statusCode !== 202) return done(null, payload);
    const body = request.body as RegisterBody | undefined;
    if (typeof body?.email !== 'string' || !body.acceptedPolicies?.length) return done(null, payload);
    recordAcceptance(request, body as RegisterBody & { email: string }).then(() => done(null, payload), done);
  });
}
