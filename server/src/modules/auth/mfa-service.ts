/**
 * TOTP enrolment and second-factor checks. The secret is envelope-encrypted under the
 * user's data key and bound to users.totp_secret of that user; a code is accepted once
 * (the last step is claimed atomically); recovery codes are hashed and single use.
 */
import { AppError } from '../../errors.js';
import type { Db } from '../../platform/db/database.js';
import type { UserRow } from '../users/service.js';
import { securityEvent, sendInBackground, type AuthDeps } from './deps.js';
import { mails } from './mail-templates.js';
import { consumeRecoveryCode, countUnusedRecoveryCodes, deleteRecoveryCodes, replaceRecoveryCodes } from './mfa-repo.js';
import { verifyPassword } from './passwords.js';
import { accountKey } from './throttle.js';
import { hashRecoveryCode, looksLikeRecoveryCode, matchTotp, newRecoveryCodes, newTotpSecret, totpQrSvgDataUrl, totpUri } from './totp.js';
import type { EventOrigin } from '../security-events/origin.js';

const binding = (userId: string) => ({ table: 'users', column: 'totp_secret', rowId: userId });

async function secretOf(deps: AuthDeps, user: UserRow): Promise<string | null> {
  if (!user.totp_secret) return null;
  return deps.encryptor.decryptText(binding(user.id), Buffer.from(user.totp_secret));
}

/** Starts enrolment: a new secret (pending until confirmed), as an otpauth URI and a QR code. */
export async function setupTotp(deps: AuthDeps, user: UserRow): Promise<{ otpauthUri: string; qrSvg: string; secret: string }> {
  if (user.totp_enabled_at) throw new AppError('conflict', 'Two-factor authentication is already enabled; disable it first to enrol a new device.');
  const secret = newTotpSecret();
  const sealed = await deps.encryptor.encrypt({ scope: 'user', id: user.id }, binding(user.id), secret);
  await deps.users.setPendingTotpSecret(user.id, sealed, deps.clock.now());
  const otpauthUri = totpUri(secret, user.email);
  return { otpauthUri, qrSvg: await totpQrSvgDataUrl(otpauthUri), secret };
}

/** Confirms enrolment with a first code; returns the recovery codes, shown once. */
export async function confirmTotp(deps: AuthDeps, user: UserRow, code: string, origin: EventOrigin = {}): Promise<string[]> {
  const secret = await secretOf(deps, user);
  if (user.totp_enabled_at || !secret) throw new AppError('conflict', 'Start enrolment first (POST /api/v1/auth/mfa/totp/setup).');
  const step = await matchTotp(secret, code, deps.clock.now());
  if (step === null) throw new AppError('invalid_credentials', 'Invalid code; check the time on your device and try the next code.');
  if (!(await deps.users.enableTotp(user.id, step, deps.clock.now()))) throw new AppError('conflict', 'Two-factor authentication is already enabled.');
  const codes = await issueRecoveryCodes(deps, user.id);
  await securityEvent(deps, { ...origin, type: 'auth.mfa_enabled', userId: user.id });
  sendInBackground(deps, mails.mfaChanged(user.email, true));
  return codes;
}

export async function disableTotpFor(deps: AuthDeps, user: UserRow, input: { password: string; code: string }, ip: string, origin: EventOrigin = {}): Promise<void> {
  if (!user.totp_enabled_at) throw new AppError('conflict', 'Two-factor authentication is not enabled.');
  const attempt = await deps.throttle.begin(accountKey(user.email), ip);
  const ok = (await verifyPassword(user.password_hash, input.password)) && (await verifySecondFactor(deps, user, input.code));
  if (!ok) {
    await deps.throttle.recordFailure(attempt);
    throw new AppError('invalid_credentials', 'Invalid password or code.');
  }
  await deps.throttle.recordSuccess(attempt.account, attempt);
  await deps.users.disableTotp(user.id, deps.clock.now());
  await deleteRecoveryCodes(deps.db, user.id);
  await securityEvent(deps, { ...origin, type: 'auth.mfa_disabled', userId: user.id, ip });
  sendInBackground(deps, mails.mfaChanged(user.email, false));
}

/**
 * Turns TOTP off and deletes the recovery codes, inside `trx` (an administrator's reset:
 * the caller checks who may, and writes the audit entry in the same transaction).
 */
export async function resetSecondFactor(deps: Pick<AuthDeps, 'users' | 'clock'>, userId: string, trx: Db): Promise<void> {
  await deps.users.disableTotp(userId, deps.clock.now(), trx);
  await deleteRecoveryCodes(trx, userId);
}

/** New recovery codes (the old ones stop working); needs a current TOTP code. */
export async function regenerateRecoveryCodes(deps: AuthDeps, user: UserRow, code: string, ip: string, origin: EventOrigin = {}): Promise<string[]> {
  if (!user.totp_enabled_at) throw new AppError('conflict', 'Two-factor authentication is not enabled.');
  const attempt = await deps.throttle.begin(accountKey(user.email), ip);
  if (looksLikeRecoveryCode(code) || !(await verifySecondFactor(deps, user, code))) {
    await deps.throttle.recordFailure(attempt);
    throw new AppError('invalid_credentials', 'Invalid code; use a code from your authenticator app.');
  }
  await deps.throttle.recordSuccess(attempt.account, attempt);
  const codes = await issueRecoveryCodes(deps, user.id);
  await securityEvent(deps, { ...origin, type: 'auth.recovery_codes_regenerated', userId: user.id, ip });
  return codes;
}

/** A TOTP code (not seen before) or an unused recovery code. */
export async function verifySecondFactor(deps: AuthDeps, user: UserRow, code: string): Promise<boolean> {
  const trimmed = code.trim();
  if (looksLikeRecoveryCode(trimmed)) return consumeRecoveryCode(deps.db, user.id, hashRecoveryCode(trimmed), deps.clock.now());
  const fresh = await deps.users.byId(user.id);
  const secret = fresh?.totp_enabled_at ? await secretOf(deps, fresh) : null;
  if (!secret) return false;
  const step = await matchTotp(secret, trimmed, deps.clock.now());
  return step !== null && (await deps.users.claimTotpStep(user.id, step));
}

async function issueRecoveryCodes(deps: AuthDeps, userId: string): Promise<string[]> {
  const codes = newRecoveryCodes();
  await replaceRecoveryCodes(deps.db, userId, codes.map(hashRecoveryCode));
  return codes;
}

export { countUnusedRecoveryCodes };
