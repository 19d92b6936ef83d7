/**
 * First-run setup: while no administrator exists, `bastion serve` issues a single-use link
 * (`/setup#token=bst_setup_…`, 256 random bits, valid SETUP_LINK_TTL_MS) and logs it once;
 * whoever holds it creates the first administrator in the browser. There is no "first
 * visitor becomes owner": reaching the page is not enough, the token from the server's log
 * is needed. Once an administrator exists every setup link is dead, and none is issued again.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { AppError } from '../../errors.js';
import { hashToken } from '../../platform/crypto/tokens.js';
import { normalizeEmail } from '../users/email.js';
import type { RequestContext } from '../sessions/service.js';
import { appLink, findToken, issueToken, securityEvent, type AuthDeps } from './deps.js';
import { assertPasswordAcceptable, hashPassword } from './passwords.js';
import type { SignInResult } from './service.js';
import { consumeToken, invalidateAllTokens } from './tokens-repo.js';
import { originOfContext } from '../security-events/origin.js';

export const SETUP_LINK_TTL_MS = 24 * 60 * 60 * 1000;

const INVALID = 'This setup link is invalid, used or expired. Restart Bastion to get a new one in its log.';

/** Whether the instance still needs its first administrator. */
export async function setupRequired(deps: Pick<AuthDeps, 'users'>): Promise<boolean> {
  return !(await deps.users.adminExists());
}

/** A new setup link while no administrator exists, else undefined (nothing to log). */
export async function issueSetupLink(deps: AuthDeps): Promise<string | undefined> {
  if (!(await setupRequired(deps))) return undefined;
  const token = await issueToken(deps, 'setup', { userId: null }, SETUP_LINK_TTL_MS);
  return appLink(deps, 'setup', { token });
}

/**
 * Creates the first administrator and signs them in. One step under a transaction lock:
 * two setup links used at once (two instances each logged one) make one administrator.
 */
export async function completeSetup(deps: AuthDeps, input: { token: string; email: string; name: string; password: string }, context: RequestContext): Promise<SignInResult> {
  const found = await findToken(deps, 'setup', input.token);
  // The row was found by the token's hash; compare it again in constant time all the same.
  const expected = Buffer.from(hashToken(input.token), 'hex');
  if (!found || !timingSafeEqual(Buffer.from(found.token_hash, 'hex'), expected)) throw new AppError('invalid_token', INVALID);
  const email = normalizeEmail(input.email);
  const name = input.name.normalize('NFKC').trim();
  assertPasswordAcceptable(input.password, { email, name, minLength: deps.settings.passwordMinLength });
  const passwordHash = await hashPassword(input.password);
  const id = randomUUID();
  await deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('bastion-first-admin'))`.execute(trx);
    const now = deps.clock.now();
    if (await deps.users.adminExists(trx)) throw new AppError('invalid_token', 'Bastion is already set up: sign in, or ask an administrator for an account.');
    if (!(await consumeToken(trx, found.id, now))) throw new AppError('invalid_token', INVALID);
    const created = await deps.users.create({ id, email, name, role: 'admin', password_hash: passwordHash, email_verified_at: now, created_at: now }, trx);
    if (!created) throw new AppError('conflict', 'An account with this email exists already; choose another address for the administrator.');
    // Every other setup link (one per start) dies with this one.
    await invalidateAllTokens(trx, 'setup', now);
  });
  await securityEvent(deps, { type: 'auth.first_admin_created', userId: id, ...originOfContext(context) });
  const user = (await deps.users.byId(id))!;
  const { token, state } = await deps.sessions.create(user.id, context);
  return { kind: 'session', token, session: state, user };
}
