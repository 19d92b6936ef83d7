/**
 * A circuit breaker per upstream (an LLM provider, say). After `failureThreshold`
 * consecutive failures it opens and refuses calls at once, so a dead provider costs
 * users a fast error instead of a timeout each, and the provider gets room to recover.
 * After `cooldownMs` it lets a single trial call through (half-open): success closes
 * it, failure opens it for another cooldown.
 *
 * State lives in this process only: each API copy learns about an outage on its own,
 * which costs at most `failureThreshold` slow calls per copy.
 */
import { systemClock, type Clock } from '../clock.js';
import { NetError } from './errors.js';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before a trial call is let through. */
  cooldownMs: number;
  clock?: Clock;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  private readonly clock: Clock;
  private failures = 0;
  /** When the circuit last opened; null while closed. */
  private openedAt: number | null = null;
  /** When the half-open trial started; null when no trial is running. */
  private trialStartedAt: number | null = null;

  constructor(private readonly options: BreakerOptions) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new RangeError('failureThreshold must be a positive integer');
    }
    if (!Number.isFinite(options.cooldownMs) || options.cooldownMs < 0) throw new RangeError('cooldownMs must be >= 0');
    this.clock = options.clock ?? systemClock;
  }

  /** `half_open` once the cooldown has passed: the next call (or the running one) is the trial. */
  get state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    if (this.trialStartedAt !== null || this.cooledDown()) return 'half_open';
    return 'open';
  }

  /** Throws NetError circuit_open when open and cooldown not elapsed; after cooldown lets ONE trial through (half_open). Call before each logical request, then report its outcome. */
  before(): void {
    if (this.openedAt === null) return;
    const now = this.now();
    // A trial that never reported (its caller vanished) would hold the circuit
    // half-open forever; after another cooldown a new trial may go.
    const trialRunning = this.trialStartedAt !== null && now - this.trialStartedAt < this.options.cooldownMs;
    if (trialRunning || !this.cooledDown()) {
      throw new NetError('circuit_open', 'The service is failing and calls to it are paused for a moment; try again shortly');
    }
    this.trialStartedAt = now;
  }

  /** The upstream answered well: close the circuit and forget past failures. */
  success(): void {
    this.failures = 0;
    this.openedAt = null;
    this.trialStartedAt = null;
  }

  /** The upstream failed: count it, or (half-open trial, or already open) re-open for a full cooldown. */
  failure(): void {
    this.trialStartedAt = null;
    if (this.openedAt !== null) {
      this.openedAt = this.now();
      return;
    }
    this.failures += 1;
    if (this.failures >= this.options.failureThreshold) this.openedAt = this.now();
  }

  /**
   * The call ended without saying anything about the upstream (the caller aborted):
   * counts as neither, but frees the half-open trial slot so the next call can try.
   */
  release(): void {
    this.trialStartedAt = null;
  }

  private cooledDown(): boolean {
    return this.openedAt !== null && this.now() - this.openedAt >= this.options.cooldownMs;
  }

  private now(): number {
    return this.clock.now().getTime();
  }
}

/** Breakers by key (provider id, host), created on first use. */
export class BreakerRegistry {
  // Map iteration order is insertion order: re-inserting on use makes it an LRU, so a
  // flood of distinct keys (fetch_url hosts) evicts idle breakers, not busy ones.
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly maxKeys: number;

  /** @param options shared by every breaker; `maxKeys` bounds memory (default 10 000) */
  constructor(private readonly options: BreakerOptions & { maxKeys?: number }) {
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  get size(): number {
    return this.breakers.size;
  }

  /** The breaker for `key`, created closed when new. */
  get(key: string): CircuitBreaker {
    let breaker = this.breakers.get(key);
    if (breaker) {
      this.breakers.delete(key);
    } else {
      breaker = new CircuitBreaker(this.options);
    }
    this.breakers.set(key, breaker);
    while (this.breakers.size > this.maxKeys) {
      const oldest = this.breakers.keys().next().value as string;
      this.breakers.delete(oldest);
    }
    return breaker;
  }

  /** Forgets a key (a provider was removed or reconfigured). */
  delete(key: string): void {
    this.breakers.delete(key);
  }
}
