/**
 * Accounts: the one way other modules read or change a user (they never query the
 * `users` table). Rules about passwords, TOTP and sign-in live in modules/auth; this
 * service keeps the account rows consistent.
 */
import type { Db } from '../../platform/db/database.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import { GATE_STATE_ENTRIES, GATE_STATE_TTL_MS, gateStateOf, type GateState, type GateStateCacheOptions } from './gate-state.js';
import * as repo from './repo.js';

export type { UserRow } from './repo.js';
export type NewUser = Parameters<typeof repo.insertUser>[1];

export class UserService {
  /** Gate states read recently, by user id (gate-state.ts); without a store nothing is cached. */
  private readonly gateStates: LocalCache<GateState> | undefined;

  /** `cache`: where the gate-state cache broadcasts its invalidations; without it every gate check reads the row. */
  constructor(
    private readonly db: Db,
    cache?: GateStateCacheOptions,
  ) {
    this.gateStates = cache ? new LocalCache(cache.store, 'user_gate_state', { ttlMs: GATE_STATE_TTL_MS, maxEntries: GATE_STATE_ENTRIES, stats: cache.stats, ...(cache.now ? { now: cache.now } : {}) }) : undefined;
  }

  /** Role, TOTP and disabled state for the per-request gates (cached). Null: no such user. */
  gateState(id: string): Promise<GateState | null> {
    const load = async () => {
      const row = await repo.findGateColumns(this.db, id);
      return row ? gateStateOf(row) : null;
    };
    return this.gateStates ? this.gateStates.getOrLoad(id, load) : load();
  }

  /**
   * Drops the cached gate state on every instance. Called after a change of TOTP or
   * disabled state commits; the methods here that change it call it themselves.
   */
  async forgetGateState(id: string): Promise<void> {
    await this.gateStates?.invalidate(id);
  }

  close(): Promise<void> {
    return this.gateStates?.close() ?? Promise.resolve();
  }

  byId(id: string): Promise<repo.UserRow | undefined> {
    return repo.findUserById(this.db, id);
  }

  /** By normalised email (see users/email.ts). */
  byEmail(email: string): Promise<repo.UserRow | undefined> {
    return repo.findUserByEmail(this.db, email);
  }

  /** Creates the account unless the email is taken; returns whether it did. `trx`: inside the caller's transaction. */
  create(user: NewUser, trx: Db = this.db): Promise<boolean> {
    return repo.insertUser(trx, user);
  }

  /** `trx`: read inside the caller's transaction (e.g. under its lock). */
  adminExists(trx: Db = this.db): Promise<boolean> {
    return repo.adminExists(trx);
  }

  /** `changed`: a new password (not a rehash), which also clears a required reset. */
  setPasswordHash(id: string, passwordHash: string, now: Date, changed: boolean): Promise<void> {
    return repo.updatePasswordHash(this.db, id, passwordHash, now, changed);
  }

  markEmailVerified(id: string, now: Date): Promise<void> {
    return repo.markEmailVerified(this.db, id, now);
  }

  requirePasswordReset(id: string, now: Date): Promise<void> {
    return repo.setPasswordResetRequired(this.db, id, now);
  }

  setPendingTotpSecret(id: string, sealedSecret: Buffer, now: Date): Promise<void> {
    return repo.setPendingTotpSecret(this.db, id, sealedSecret, now);
  }

  /** Turns TOTP on once (false when it already was, or no secret is pending). */
  async enableTotp(id: string, step: number, now: Date): Promise<boolean> {
    const enabled = await repo.enableTotp(this.db, id, step, now);
    if (enabled) await this.forgetGateState(id);
    return enabled;
  }

  /** `trx`: inside the caller's transaction (an administrator's reset, with its audit entry), which must call forgetGateState after it commits. */
  async disableTotp(id: string, now: Date, trx?: Db): Promise<void> {
    await repo.disableTotp(trx ?? this.db, id, now);
    if (!trx) await this.forgetGateState(id);
  }

  /** Accepts a TOTP step once, atomically across API copies (repo.claimTotpStep). */
  claimTotpStep(id: string, step: number): Promise<boolean> {
    return repo.claimTotpStep(this.db, id, step);
  }

  count(): Promise<number> {
    return repo.countUsers(this.db);
  }
}
