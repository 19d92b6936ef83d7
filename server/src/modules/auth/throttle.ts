/**
 * Sign-in throttling in the store, shared by every API copy (ASVS 6.3.1, NIST 800-63B §5.2.2).
 *
 * Keys are derived from the normalised email, not the user id, so unknown and known
 * addresses behave identically (no enumeration). Per account: progressive delays after
 * the second failure, then a temporary lock at the threshold that doubles on each
 * further lock within 24 h. Per IP and per IP+account: attempt budgets, so one source
 * cannot spray accounts or hammer one.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../../http/errors.js';
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

export class LoginThrottle {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly limits: ThrottleLimits,
  ) {}

  /** Throws `account_locked` or `rate_limited` (with Retry-After) before any password work. */
  async check(account: string, ip: string): Promise<void> {
    const now = this.clock.now().getTime();
    const lockedUntil = Number((await this.store.get(`auth:lock:${account}`)) ?? 0);
    if (lockedUntil > now) throw withRetry(new AppError('account_locked', 'Too many failed sign-ins; this account is locked for a while. Try again later or reset your password.'), lockedUntil - now);
    const delayUntil = Number((await this.store.get(`auth:delay:${account}`)) ?? 0);
    if (delayUntil > now) throw withRetry(new AppError('rate_limited', 'Too many attempts; wait a moment before trying again.'), delayUntil - now);
    const ipFailures = Number((await this.store.get(`auth:ip:${ip}`)) ?? 0);
    if (ipFailures >= this.limits.perIp) throw withRetry(new AppError('rate_limited', 'Too many failed sign-ins from your network; try again later.'), this.limits.windowMs);
    const attempts = await this.store.increment(`auth:ipacct:${ip}:${account}`, { ttlMs: this.limits.windowMs });
    if (attempts.value > this.limits.perIpAccount) throw withRetry(new AppError('rate_limited', 'Too many attempts; try again later.'), attempts.ttlMs);
  }

  /** Counts a failure; returns whether it locked the account (so the owner can be told). */
  async recordFailure(account: string, ip: string): Promise<{ locked: boolean; failures: number }> {
    const now = this.clock.now().getTime();
    await this.store.increment(`auth:ip:${ip}`, { ttlMs: this.limits.windowMs });
    const failures = (await this.store.increment(`auth:fail:${account}`, { ttlMs: DAY_MS })).value;
    if (failures >= this.limits.threshold) {
      const locks = (await this.store.increment(`auth:locks:${account}`, { ttlMs: DAY_MS })).value;
      const lockMs = Math.min(this.limits.lockMs * 2 ** (locks - 1), DAY_MS);
      await this.store.set(`auth:lock:${account}`, String(now + lockMs), { ttlMs: lockMs + 60_000 });
      await this.store.delete(`auth:fail:${account}`);
      await this.store.delete(`auth:delay:${account}`);
      return { locked: true, failures };
    }
    if (failures >= 2) {
      const delayMs = 1_000 * 2 ** (failures - 2); // 1 s, 2 s, 4 s … before the lock
      await this.store.set(`auth:delay:${account}`, String(now + delayMs), { ttlMs: delayMs + 1_000 });
    }
    return { locked: false, failures };
  }

  /** A successful sign-in resets the account's failures; returns how many there were. */
  async recordSuccess(account: string): Promise<number> {
    const failures = Number((await this.store.get(`auth:fail:${account}`)) ?? 0);
    await Promise.all([this.store.delete(`auth:fail:${account}`), this.store.delete(`auth:delay:${account}`)]);
    return failures;
  }

  /** Lifts a lock (admin action). */
  async unlock(account: string): Promise<void> {
    await Promise.all(['lock', 'locks', 'fail', 'delay'].map((k) => this.store.delete(`auth:${k}:${account}`)));
  }
}

function withRetry(error: AppError, ms: number): AppError {
  error.retryAfter = ms / 1_000;
  return error;
}
