/**
 * Disabled accounts (users.disabled_at, set by an administrator): sign-in and every
 * credential of the account are refused. One error, one message, wherever it is checked.
 */
import { AppError } from '../../errors.js';
import type { UserRow } from './repo.js';

export const ACCOUNT_DISABLED_MESSAGE = 'This account is disabled; contact an administrator to have it enabled again.';

export function isDisabled(user: Pick<UserRow, 'disabled_at'>): boolean {
  return user.disabled_at !== null;
}

/** Throws 403 `account_disabled` when an administrator disabled the account. */
export function assertEnabled(user: Pick<UserRow, 'disabled_at'>): void {
  if (isDisabled(user)) throw new AppError('account_disabled', ACCOUNT_DISABLED_MESSAGE);
}
