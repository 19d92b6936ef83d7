/**
 * Counts added in memory and written to the store in one increment per key every `flushMs`:
 * under load the traffic monitor costs one store write per principal and window per flush,
 * not one per request. Each add resolves with the counter's total after the flush that
 * carried it (the store's atomic increment returns it), so thresholds are judged on the
 * cluster-wide count, at most `flushMs` late. Counts still waiting when the process dies are
 * lost: these counters feed alerts, not access decisions.
 */
import type { Store } from '../../platform/store/store.js';

interface Pending {
  by: number;
  ttlMs: number;
  waiters: { resolve: (total: number) => void; reject: (error: unknown) => void }[];
}

export class BatchedCounter {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly flushMs = 100,
  ) {}

  /** Adds one to `key` (a fixed window of `ttlMs` from its first count); resolves with the total. */
  add(key: string, ttlMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const entry = this.pending.get(key) ?? { by: 0, ttlMs, waiters: [] };
      entry.by += 1;
      entry.waiters.push({ resolve, reject });
      this.pending.set(key, entry);
      this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
    });
  }

  /** Writes what is pending now (also called by the timer). */
  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all(
      [...batch].map(async ([key, entry]) => {
        try {
          const { value } = await this.store.increment(key, { ttlMs: entry.ttlMs, by: entry.by });
          for (const waiter of entry.waiters) waiter.resolve(value);
        } catch (error) {
          for (const waiter of entry.waiters) waiter.reject(error);
        }
      }),
    );
  }
}
