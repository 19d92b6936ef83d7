/**
 * Registration, email verification, sign-in (password, then TOTP or recovery code),
 * sign-out, and the "this wasn't me" response to a suspicious sign-in.
 * Failures never reveal whether an email exists (ASVS 6.3.8).
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors.js';
import { assertEnabled } from '../users/disabled.js';
import { normalizeEmail } from '../users/email.js';
import type { UserRow } from '../users/service.js';
import type { RequestContext } from '../sessions/service.js';
import type { SessionState } from '../../principal.js';
import { appLink, findToken, issueToken, revokeMachineCredentials, securityEvent, sendInBackground, type AuthDeps, type SignInFactor } from './deps.js';
import { mails } from './mail-templates.js';
import { verifySecondFactor } from './mfa-service.js';
import { assertPasswordAcceptable, burnPasswordCheck, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import { deviceOf, loadSignInHistory, networkOf, scoreSignIn, SUSPICIOUS_THRESHOLD } from './suspicious.js';
import { accountKey, type Attempt } from './throttle.js';
import { consumeToken } from './tokens-repo.js';
import { originOfContext } from '../security-events/origin.js';

const HOUR = 60 * 60 * 1000;
export const INVALID_CREDENTIALS = 'Invalid email or password.';

export type SignInResult = { kind: 'session'; token: string; session: SessionState; user: UserRow } | { kind: 'mfa'; mfaToken: string };

/**
 * `registered`: the account exists and can sign in now (an invitation proved the address);
 * `check_your_email`: a verification link was mailed (or the address had an account).
 */
export type RegisterOutcome = 'registered' | 'check_your_email';

export async function register(deps: AuthDeps, input: { email: string; password: string; name: string; inviteToken?: string | undefined }): Promise<RegisterOutcome> {
  const email = normalizeEmail(input.email);
  const name = input.name.normalize('NFKC').trim();
  if (deps.settings.registration === 'closed') throw new AppError('registration_closed', 'Registration is closed; ask an administrator for an account.');
  const found = input.inviteToken ? await findToken(deps, 'invite', input.inviteToken) : undefined;
  // An invitation counts only for the address it was sent to (it proves that mailbox).
  const invite = found && found.email === email ? found : undefined;
  // A workspace invitation (bst_inv_…) lets its addressee register; it is accepted after sign-in.
  const workspaceInvite = !invite && input.inviteToken ? (await deps.invitations?.addressee(input.inviteToken)) === email : false;
  if (deps.settings.registration === 'invite' && !invite && !workspaceInvite) {
    throw new AppError('registration_closed', 'Registration needs an invitation for this email address; ask an administrator.');
  }
  assertPasswordAcceptable(input.password, { email, name, minLength: deps.settings.passwordMinLength });
  const now = deps.clock.now();
  const id = randomUUID();
  const passwordHash = await hashPassword(input.password);
  if (invite && !(await consumeToken(deps.db, invite.id, now))) {
    throw new AppError('invalid_token', 'This invitation was already used.');
  }
  const inserted = await deps.users.create({
    id,
    email,
    name,
    role: 'member',
    password_hash: passwordHash,
    email_verified_at: invite || workspaceInvite ? now : null, // an invitation mailed to the address proves it
    created_at: now,
  });
  if (!inserted) {
    // Same answer as a new account; the owner learns of the attempt by mail.
    sendInBackground(deps, mails.alreadyRegistered(email, appLink(deps, 'forgot-password', {})));
    return 'check_your_email';
  }
  if (invite || workspaceInvite) return 'registered';
  await sendVerification(deps, { id, email, name });
  return 'check_your_email';
}

export async function sendVerification(deps: AuthDeps, user: { id: string; email: string; name: string }): Promise<void> {
  const token = await issueToken(deps, 'verify_email', { userId: user.id }, 24 * HOUR, { replace: true });
  sendInBackground(deps, mails.verifyEmail(user.email, user.name, appLink(deps, 'verify-email', { token })));
}

export async function verifyEmail(deps: AuthDeps, token: string): Promise<void> {
  const row = await findToken(deps, 'verify_email', token);
  if (!row?.user_id || !(await consumeToken(deps.db, row.id, deps.clock.now()))) {
    throw new AppError('invalid_token', 'This verification link is invalid or has expired; sign in to get a new one.');
  }
  await deps.users.markEmailVerified(row.user_id, deps.clock.now());
}

export async function signIn(deps: AuthDeps, input: { email: string; password: string }, context: RequestContext): Promise<SignInResult> {
  const email = normalizeEmail(input.email);
  const account = accountKey(email);
  const attempt = await deps.throttle.begin(account, context.ip); // reserved before any password work
  const user = await deps.users.byEmail(email);
  const valid = user ? await verifyPassword(user.password_hash, input.password) : (await burnPasswordCheck(input.password), false);
  if (!user || !valid) {
    await failAttempt(deps, attempt, user, context, 'password', input.password);
    throw new AppError('invalid_credentials', INVALID_CREDENTIALS);
  }
  if (needsRehash(user.password_hash)) {
    await deps.users.setPasswordHash(user.id, await hashPassword(input.password), deps.clock.now(), false);
  }
  if (user.password_reset_required) {
    throw new AppError('password_reset_required', 'This account needs a new password; use the link we mailed you or “Forgot password”.');
  }
  assertEnabled(user); // only after the right password: a guess learns nothing about the account
  if (deps.settings.requireEmailVerification && !user.email_verified_at) {
    await sendVerification(deps, user);
    throw new AppError('email_not_verified', 'Verify your email address first; we have sent you a new link.');
  }
  if (user.totp_enabled_at) {
    await deps.throttle.releaseForNextFactor(attempt);
    const mfaToken = await issueToken(deps, 'mfa_login', { userId: user.id }, 5 * 60 * 1000);
    return { kind: 'mfa', mfaToken };
  }
  return completeSignIn(deps, user, context, attempt);
}

/** Second step: a TOTP code or a recovery code for the account the mfaToken names. */
export async function signInWithCode(deps: AuthDeps, input: { mfaToken: string; code: string }, context: RequestContext): Promise<SignInResult> {
  const row = await findToken(deps, 'mfa_login', input.mfaToken);
  const user = row?.user_id ? await deps.users.byId(row.user_id) : undefined;
  if (!row || !user) throw new AppError('invalid_token', 'This sign-in has expired; start again with your email and password.');
  // ASVS 6.6.3: OTP entry is rate limited, and the slot is reserved before the code is checked.
  const attempt = await deps.throttle.begin(accountKey(user.email), context.ip);
  if (!(await verifySecondFactor(deps, user, input.code))) {
    await failAttempt(deps, attempt, user, context, 'second_factor');
    throw new AppError('invalid_credentials', 'Invalid code.');
  }
  if (!(await consumeToken(deps.db, row.id, deps.clock.now()))) {
    throw new AppError('invalid_token', 'This sign-in has expired; start again with your email and password.');
  }
  return completeSignIn(deps, user, context, attempt);
}

async function failAttempt(deps: AuthDeps, attempt: Attempt, user: UserRow | undefined, context: RequestContext, factor: SignInFactor, password?: string): Promise<void> {
  deps.onSignInFailure?.(factor);
  const { account } = attempt;
  const { locked } = await deps.throttle.recordFailure(attempt);
  // The monitor's spraying rule gets a truncated keyed prefix of the password, never the password.
  const passwordPrefix = password === undefined ? undefined : await deps.securityEvents?.passwordPrefix(password);
  await securityEvent(deps, {
    type: 'auth.sign_in_failed',
    userId: user?.id ?? null,
    ...originOfContext(context),
    details: { factor, locked, account },
    signals: { account, ...(passwordPrefix ? { passwordPrefix } : {}) },
  });
  if (locked && user) {
    await securityEvent(deps, { type: 'auth.account_locked', userId: user.id, ...originOfContext(context) });
    sendInBackground(deps, mails.accountLocked(user.email, deps.settings.lockoutMinutes, appLink(deps, 'forgot-password', {})));
  }
}

/** Issues a fresh session (ASVS 7.2.4: new id at every sign-in) and scores the sign-in. */
export async function completeSignIn(deps: AuthDeps, user: UserRow, context: RequestContext, attempt?: Attempt): Promise<SignInResult> {
  assertEnabled(user); // the second factor and single sign-on end here too
  const failuresBefore = await deps.throttle.recordSuccess(accountKey(user.email), attempt);
  const { token, state } = await deps.sessions.create(user.id, context);
  // Disabled while this sign-in ran: the disabling revoked the sessions it found, maybe before this one existed.
  const current = await deps.users.byId(user.id);
  if (current?.disabled_at) {
    await deps.sessions.revoke(user.id, state.id, 'account_disabled', originOfContext(context));
    assertEnabled(current);
  }
  await securityEvent(deps, { type: 'auth.sign_in_succeeded', userId: user.id, ...originOfContext(context), details: { sessionId: state.id } }); // ASVS 16.3.1
  await recordSignIn(deps, user, context, failuresBefore);
  return { kind: 'session', token, session: state, user };
}

async function recordSignIn(deps: AuthDeps, user: UserRow, context: RequestContext, failuresBefore: number): Promise<void> {
  const now = deps.clock.now();
  const device = deviceOf(context.userAgent);
  const network = networkOf(context.ip);
  const hour = now.getUTCHours();
  const { history, otherAccountsFromIp } = await loadSignInHistory(deps.db, user.id, context.ip, now);
  const { score, reasons } = scoreSignIn({ device, network, hour, failuresBefore, otherAccountsFromIp, history });
  await deps.db.insertInto('sign_ins').values({ id: randomUUID(), user_id: user.id, at: now, ip: context.ip, network, device, hour, score, reasons }).execute();
  if (score < SUSPICIOUS_THRESHOLD) return;
  await securityEvent(deps, { type: 'auth.suspicious_sign_in', userId: user.id, ...originOfContext(context), details: { score, reasons } });
  const token = await issueToken(deps, 'not_me', { userId: user.id }, 7 * 24 * HOUR);
  const details = [`When: ${now.toISOString()}`, `From: ${context.ip}`, `Device: ${context.userAgent.slice(0, 120) || 'unknown'}`, `Why: ${reasons.join(', ')}`];
  sendInBackground(deps, mails.newSignIn(user.email, details, appLink(deps, 'not-me', { token })));
}

/** "This wasn't me": ends every session, requires a new password and mails a reset link. */
export async function disownSignIn(deps: AuthDeps, token: string, context: RequestContext): Promise<void> {
  const row = await findToken(deps, 'not_me', token);
  const now = deps.clock.now();
  if (!row?.user_id || !(await consumeToken(deps.db, row.id, now))) {
    throw new AppError('invalid_token', 'This link is invalid or was already used.');
  }
  const user = await deps.users.byId(row.user_id);
  if (!user) throw new AppError('invalid_token', 'This link is invalid or was already used.');
  await deps.sessions.revokeAll(user.id, 'sign_in_disowned', undefined, originOfContext(context));
  await revokeMachineCredentials(deps, user.id);
  await deps.users.requirePasswordReset(user.id, now);
  await securityEvent(deps, { type: 'auth.sign_in_disowned', userId: user.id, ...originOfContext(context) });
  const reset = await issueToken(deps, 'password_reset', { userId: user.id }, 30 * 60 * 1000, { replace: true });
  sendInBackground(deps, mails.passwordReset(user.email, appLink(deps, 'reset-password', { token: reset })));
}
