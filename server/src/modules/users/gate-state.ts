/**
 * What the per-request MFA gate decides on — the account's role, whether TOTP is on,
 * whether the account is disabled — kept per user in a LocalCache, so a signed-in request
 * under the default REQUIRE_MFA=admins needs no users query of its own.
 *
 * Every change of these facts (TOTP confirmed, turned off or reset, the account disabled,
 * enabled or erased) calls `UserService.forgetGateState` once it is committed: that drops the entry on every
 * instance before it resolves, so no copy lets an administrator whose TOTP was just reset
 * through. The TTL bounds only what a broadcast lost in a store outage could leave; the
 * cache serves nothing while its broadcast connection is down.
 */
import type { CacheStats } from '../../platform/store/cache.js';
import type { Store } from '../../platform/store/store.js';
import type { UserRow } from './repo.js';

export const GATE_STATE_TTL_MS = 5_000;
export const GATE_STATE_ENTRIES = 50_000;

export interface GateState {
  role: UserRow['role'];
  totpEnabled: boolean;
  disabled: boolean;
}

export interface GateStateCacheOptions {
  store: Store;
  stats?: CacheStats | undefined;
  now?: () => number;
}

export function gateStateOf(user: Pick<UserRow, 'role' | 'totp_enabled_at' | 'disabled_at'>): GateState {
  return { role: user.role, totpEnabled: user.totp_enabled_at !== null, disabled: user.disabled_at !== null };
}
