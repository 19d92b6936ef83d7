/**
 * Ephemeral shared state: sessions, rate-limit counters, lockouts, nonces, caches.
 * Redis in production (shared by every API copy); a bounded in-memory map for one
 * process. Both implementations pass the same contract test (store.contract.test.ts).
 */

export interface SetOptions {
  /** Expire the key after this many milliseconds; no expiry when omitted. */
  ttlMs?: number;
  /** Only set when the key does not exist (a nonce or a lock). */
  ifAbsent?: boolean;
}

export interface Counter {
  /** The value after incrementing. */
  value: number;
  /** Milliseconds until the counter resets. */
  ttlMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Requests still allowed right now. */
  remaining: number;
  /** Milliseconds until the full quota is back. */
  resetMs: number;
  /** Milliseconds to wait before the next request can pass (0 when allowed). */
  retryAfterMs: number;
}

export interface Reservation {
  /** True when a slot was taken; the caller may do the guarded work. */
  allowed: boolean;
  /** The counter after this call (the slot's number when allowed). */
  value: number;
  /** Milliseconds until the counter resets. */
  ttlMs: number;
  /** Milliseconds the `blockedUntil` time is still ahead (0 when not blocked). */
  blockedMs: number;
}

export interface ReserveOptions {
  /** Slots in the counter; a full counter refuses. */
  limit: number;
  /** Expiry set when the counter is created (a fixed window). */
  ttlMs: number;
  /** Refuse while `key` holds a time (ms since epoch) after `now`: a lock beside the counter. */
  blockedUntil?: { key: string; now: number };
}

/** Handlers of a broadcast channel (see Store.subscribe). */
export interface ChannelHandlers {
  message(message: string): void;
  /** Messages may have been missed (the subscriber connection dropped or came back): drop whatever they would have invalidated. */
  reset(): void;
}

export interface Subscription {
  /** True while messages are being received; a cache may serve only while it is. */
  readonly live: boolean;
  close(): Promise<void>;
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  /**
   * Broadcasts to every process sharing the store (cache invalidation). Resolves with the
   * number of subscriptions the message was handed to; a subscriber that is down gets
   * nothing, which is why subscriptions report `live` and `reset`.
   */
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string, handlers: ChannelHandlers): Subscription;
  get(key: string): Promise<string | null>;
  /** Returns false only when `ifAbsent` was asked and the key already existed. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Returns true when a key was removed. */
  delete(key: string): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) and returns the new value. The expiry is set
   * when the counter is created and kept on later increments: a fixed window.
   */
  increment(key: string, options: { ttlMs: number; by?: number }): Promise<Counter>;
  /**
   * Atomically takes one slot of a counter before the work it guards (a check and its
   * count in one step, so parallel requests cannot all pass a check made before any of
   * them counted). Refused slots are not counted.
   */
  reserve(key: string, options: ReserveOptions): Promise<Reservation>;
  /** Atomically gives one reserved slot back; never takes the counter below zero. */
  release(key: string): Promise<void>;
  /**
   * Atomically replaces the value when it equals `expected` (`null`: the key must
   * be absent). Returns whether the swap happened.
   */
  compareAndSet(key: string, expected: string | null, next: string, options?: { ttlMs?: number }): Promise<boolean>;
  /**
   * Rate limiting with GCRA (generic cell rate algorithm): at most `limit` requests per
   * `windowMs`, with bursts up to `limit`, smoothly refilled. Atomic across processes.
   */
  consumeRate(key: string, limit: number, windowMs: number): Promise<RateDecision>;
  /** Milliseconds left before expiry; `null` when the key is missing, `-1` when it never expires. */
  ttl(key: string): Promise<number | null>;
  ping(): Promise<void>;
  /** Resolves once the store can serve (connected); rejects after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function assertTtl(ttlMs: number | undefined): void {
  if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs <= 0)) {
    throw new RangeError('ttlMs must be a positive integer');
  }
}

/** GCRA step shared by the implementations: `tat` is the stored theoretical arrival time. */
export function gcra(tat: number | null, now: number, limit: number, windowMs: number): { decision: RateDecision; newTat: number | null } {
  const interval = windowMs / limit;
  const start = Math.max(tat ?? now, now);
  const candidate = start + interval;
  if (candidate - now > windowMs) {
    const retryAfterMs = Math.ceil(candidate - now - windowMs);
    return { decision: { allowed: false, remaining: 0, resetMs: Math.ceil(start - now), retryAfterMs }, newTat: null };
  }
  const remaining = Math.floor((windowMs - (candidate - now)) / interval);
  return { decision: { allowed: true, remaining, resetMs: Math.ceil(candidate - now), retryAfterMs: 0 }, newTat: candidate };
}
