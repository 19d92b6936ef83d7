/**
 * What the per-request MFA gate decides on — the account's role, whether TOTP is on,
 * whether the account is disabled — kept per user in a LocalCache, so a signed-in request
 * under the default REQUIRE_MFA=admins needs no users query of its own.
 *
 * Every change of these facts (TOTP confirmed, turned off or reset, the account disabled,
 * enabled or erased) calls `forget` once it is committed: that drops the entry on every
 * instance before it resolves, so no copy lets an administrator whose TOTP was just reset
 * through. The TTL bounds only what a broadcast lost in a store outage could leave; the
 * cache serves nothing while its broadcast connection is down.
 */
import type { CacheStats } from '../../platform/store/cache.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import type { Store } from '../../platform/store/store.js';
import type { UserRow } from './repo.js';

export const GATE_STATE_TTL_MS = 5_000;
const GATE_STATE_ENTRIES = 50_000;

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

export class GateStates {
  private readonly cache: LocalCache<GateState> | undefined;

  constructor(
    private readonly load: (id: string) => Promise<GateState | null>,
    cache?: GateStateCacheOptions,
  ) {
    this.cache = cache ? new LocalCache(cache.store, 'user_gate_state', { ttlMs: GATE_STATE_TTL_MS, maxEntries: GATE_STATE_ENTRIES, stats: cache.stats, ...(cache.now ? { now: cache.now } : {}) }) : undefined;
  }

  /** The user's state, or null when there is no such user. */
  of(id: string): Promise<GateState | null> {
    return this.cache ? this.cache.getOrLoad(id, () => this.load(id)) : this.load(id);
  }

  /** After a committed change of role, TOTP or disabled state: every instance reads it afresh. */
  async forget(id: string): Promise<void> {
    await this.cache?.invalidate(id);
  }

  close(): Promise<void> {
    return this.cache?.close() ?? Promise.resolve();
  }
}
