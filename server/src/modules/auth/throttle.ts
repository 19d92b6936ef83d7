/**
 * Sign-in throttling in the store, shared by every API copy (ASVS 6.3.1, NIST 800-63B §5.2.2).
 *
 * Keys are derived from the normalised email, not the user id, so unknown and known
 * addresses behave identically (no enumeration). Per account: progressive delays after
 * the second failure, then a temporary lock at the threshold that doubles on each
 * further lock within 24 h. Per IP and per IP+account: attempt budgets, so one source
 * cannot spray accounts or hammer one.
 *
 * Every attempt reserves its slot (`begin`) before the password or code is checked, and
 * reports the outcome with the handle it got: a check made before any parallel attempt
 * had counted would let them all through.
 */
import { createHash } from 'node:crypto';
import { retryLater } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Store } from '../../platform/store/store.js';

export interface ThrottleLimits {
  threshold: number;
  lockMs: number;
  /** Failed attempts one IP may make across all accounts per window. */
  perIp: number;
  /** Attempts one IP may make on one account per window. */
  perIpAccount: number;
  windowMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function accountKey(email: string): string {
  return createHash('sha256').update(`bastion-login:${email}`).digest('hex').slice(0, 32);
}

/** One reserved verification: the handle a caller passes back with the outcome. */
export interface Attempt {
  account: string;
  ip: string;
  /** The slot's number in the account's counter (1 = first attempt since the last reset). */
  slot: number;
}

export class LoginThrottle {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly limits: ThrottleLimits,
  ) {}

  /**
   * Reserves one password or code verification before any work is done, or throws
   * `account_locked` / `rate_limited` (with Retry-After). The reservation is atomic in the
   * store: however many requests arrive at once, at most `threshold` verifications of an
   * account run per lock window, and the rest are refused without touching a hash.
   */
  async begin(account: string, ip: string): Promise<Attempt> {
    const now = this.clock.now().getTime();
    const [lockedUntil, delayUntil] = (await Promise.all([this.store.get(this.lockKey(account)), this.store.get(`auth:delay:{${account}}`)])).map(Number);
    // Read first only to answer with the right reason; the reservation below re-checks the lock atomically.
    if (lockedUntil! > now) throw retryLater('account_locked', LOCKED_MESSAGE, lockedUntil! - now);
    if (delayUntil! > now) throw retryLater('rate_limited', (wait) => `Too many attempts; try again ${wait}.`, delayUntil! - now);
    const attempts = await this.store.increment(`auth:ipacct:${ip}:{${account}}`, { ttlMs: this.limits.windowMs });
    if (attempts.value > this.limits.perIpAccount) throw retryLater('rate_limited', (wait) => `Too many attempts; try again ${wait}.`, attempts.ttlMs);
    const network = await this.store.reserve(`auth:ip:${ip}`, { limit: this.limits.perIp, ttlMs: this.limits.windowMs });
    if (!network.allowed) throw retryLater('rate_limited', (wait) => `Too many failed sign-ins from your network; try again ${wait}.`, network.ttlMs);
    const slot = await this.store.reserve(this.counterKey(account), {
      limit: this.limits.threshold,
      ttlMs: DAY_MS,
      blockedUntil: { key: this.lockKey(account), now },
    });
    if (slot.allowed) return { account, ip, slot: slot.value };
    await this.store.release(`auth:ip:${ip}`); // refused before any verification: not a failure of this network
    if (slot.blockedMs > 0) throw retryLater('account_locked', LOCKED_MESSAGE, slot.blockedMs);
    // Every slot is taken by attempts still being verified; their outcome decides the lock.
    throw retryLater('account_locked', LOCKED_MESSAGE, this.limits.lockMs);
  }

  /** Counts a failure (its slot stays taken); returns whether it locked the account (so the owner can be told). */
  async recordFailure(attempt: Attempt): Promise<{ locked: boolean; failures: number }> {
    const { account, slot } = attempt;
    const now = this.clock.now().getTime();
    if (slot >= this.limits.threshold) {
      const locks = (await this.store.increment(`auth:locks:{${account}}`, { ttlMs: DAY_MS })).value;
      const lockMs = Math.min(this.limits.lockMs * 2 ** (locks - 1), DAY_MS);
      // The lock first: from here every reservation is refused, so emptying the counter is safe.
      await this.store.set(this.lockKey(account), String(now + lockMs), { ttlMs: lockMs + 60_000 });
      await Promise.all([this.store.delete(this.counterKey(account)), this.store.delete(`auth:delay:{${account}}`)]);
      return { locked: true, failures: slot };
    }
    if (slot >= 2) {
      const delayMs = 1_000 * 2 ** (slot - 2); // 1 s, 2 s, 4 s … before the lock
      await this.store.set(`auth:delay:{${account}}`, String(now + delayMs), { ttlMs: delayMs + 1_000 });
    }
    return { locked: false, failures: slot };
  }

  /**
   * The first factor was right but a second one follows: the slot is given back (the
   * failures before it stay counted), so a person who knows the password still has only
   * the attempts left for codes.
   */
  async releaseForNextFactor(attempt: Attempt): Promise<void> {
    await Promise.all([this.store.release(this.counterKey(attempt.account)), this.store.release(`auth:ip:${attempt.ip}`)]);
  }

  /** A successful sign-in resets the account's failures; returns how many there were. */
  async recordSuccess(account: string, attempt?: Attempt): Promise<number> {
    const counted = Number((await this.store.get(this.counterKey(account))) ?? 0);
    await Promise.all([this.store.delete(this.counterKey(account)), this.store.delete(`auth:delay:{${account}}`), attempt ? this.store.release(`auth:ip:${attempt.ip}`) : undefined]);
    return Math.max(0, counted - (attempt ? 1 : 0));
  }

  /** When the account's sign-in lock ends, or null while it is not locked (the admin account list). */
  async lockedUntil(account: string): Promise<Date | null> {
    const until = Number(await this.store.get(this.lockKey(account)));
    return until > this.clock.now().getTime() ? new Date(until) : null;
  }

  /** Lifts a lock (admin action). */
  async unlock(account: string): Promise<void> {
    await Promise.all(['lock', 'locks', 'fail', 'delay'].map((k) => this.store.delete(`auth:${k}:{${account}}`)));
  }

  // Hash tags ({…}) keep an account's keys in one Redis Cluster slot, as the reservation script needs.
  private counterKey(account: string): string {
    return `auth:fail:{${account}}`;
  }

  private lockKey(account: string): string {
    return `auth:lock:{${account}}`;
  }
}

const LOCKED_MESSAGE = (wait: string) => `Too many failed sign-ins; this account is locked. Try again ${wait}, or reset your password.`;
