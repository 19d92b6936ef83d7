/**
 * Password reset (ASVS 6.4.1: random, short-lived, single use; the newest link wins)
 * and password change. Both end other sessions and tell the owner by mail.
 */
import { AppError, retryLater } from '../../errors.js';
import { normalizeEmail } from '../users/email.js';
import type { UserRow } from '../users/service.js';
import type { RequestContext } from '../sessions/service.js';
import { appLink, findToken, issueToken, revokeMachineCredentials, securityEvent, sendInBackground, type AuthDeps } from './deps.js';
import { mails } from './mail-templates.js';
import { assertPasswordAcceptable, hashPassword, verifyPassword } from './passwords.js';
import { accountKey } from './throttle.js';
import { consumeToken, invalidateTokens } from './tokens-repo.js';
import { originOfContext } from '../security-events/origin.js';

const RESET_TTL_MS = 30 * 60 * 1000;
const HOUR = 60 * 60 * 1000;

/** Mails a reset link if the account exists; the caller answers the same either way. */
export async function requestPasswordReset(deps: AuthDeps, rawEmail: string, context: RequestContext): Promise<void> {
  const email = normalizeEmail(rawEmail);
  const perEmail = await deps.store.increment(`reset:email:${accountKey(email)}`, { ttlMs: HOUR });
  const perIp = await deps.store.increment(`reset:ip:${context.ip}`, { ttlMs: HOUR });
  if (perEmail.value > 5 || perIp.value > 20) {
    // The wait is that of every limit this request is over.
    const waitMs = Math.max(perEmail.value > 5 ? perEmail.ttlMs : 0, perIp.value > 20 ? perIp.ttlMs : 0);
    throw retryLater('rate_limited', (wait) => `Too many reset requests; try again ${wait}.`, waitMs);
  }
  // The answer must not depend on whether the account exists, in content or in time:
  // the lookup and the token work happen after the response.
  void (async () => {
    const user = await deps.users.byEmail(email);
    if (!user) return;
    const token = await issueToken(deps, 'password_reset', { userId: user.id }, RESET_TTL_MS, { replace: true });
    await securityEvent(deps, { type: 'auth.password_reset_requested', userId: user.id, ...originOfContext(context) });
    sendInBackground(deps, mails.passwordReset(user.email, appLink(deps, 'reset-password', { token })));
  })().catch((error: unknown) => deps.logger.error({ err: error }, 'password reset request failed'));
}

export async function resetPassword(deps: AuthDeps, input: { token: string; password: string }, context: RequestContext): Promise<void> {
  const row = await findToken(deps, 'password_reset', input.token);
  const user = row?.user_id ? await deps.users.byId(row.user_id) : undefined;
  if (!row || !user) throw new AppError('invalid_token', 'This reset link is invalid, expired or already used; ask for a new one.');
  assertPasswordAcceptable(input.password, { email: user.email, name: user.name, minLength: deps.settings.passwordMinLength });
  const hash = await hashPassword(input.password);
  const now = deps.clock.now();
  if (!(await consumeToken(deps.db, row.id, now))) throw new AppError('invalid_token', 'This reset link was already used; ask for a new one.');
  await deps.users.setPasswordHash(user.id, hash, now, true);
  await invalidateTokens(deps.db, user.id, 'password_reset', now);
  await deps.sessions.revokeAll(user.id, 'password_reset', undefined, originOfContext(context));
  await revokeMachineCredentials(deps, user.id);
  await deps.throttle.unlock(accountKey(user.email)); // the owner proved control of the mailbox
  await securityEvent(deps, { type: 'auth.password_reset', userId: user.id, ...originOfContext(context) });
  sendInBackground(deps, mails.passwordChanged(user.email));
}

/** Changes the password of a signed-in user; other sessions end (ASVS 7.4.3). */
export async function changePassword(deps: AuthDeps, user: UserRow, input: { currentPassword: string; newPassword: string }, context: RequestContext & { sessionId: string }): Promise<void> {
  const account = accountKey(user.email);
  const attempt = await deps.throttle.begin(account, context.ip);
  if (!(await verifyPassword(user.password_hash, input.currentPassword))) {
    await deps.throttle.recordFailure(attempt);
    throw new AppError('invalid_credentials', 'The current password is wrong.');
  }
  await deps.throttle.recordSuccess(account, attempt);
  assertPasswordAcceptable(input.newPassword, { email: user.email, name: user.name, minLength: deps.settings.passwordMinLength });
  await deps.users.setPasswordHash(user.id, await hashPassword(input.newPassword), deps.clock.now(), true);
  await deps.sessions.revokeAll(user.id, 'password_changed', context.sessionId, originOfContext(context));
  await securityEvent(deps, { type: 'auth.password_changed', userId: user.id, ...originOfContext(context) });
  sendInBackground(deps, mails.passwordChanged(user.email));
}

export type { UserRow };
