/**
 * JSON caches on the store (Redis in production, so every API copy sees the same
 * entries and invalidations), with hit/miss counters per cache name.
 */
import type { Store } from './store.js';

export class CacheStats {
  private readonly counts = new Map<string, { hits: number; misses: number }>();

  record(name: string, hit: boolean): void {
    const entry = this.counts.get(name) ?? { hits: 0, misses: 0 };
    if (hit) entry.hits++;
    else entry.misses++;
    this.counts.set(name, entry);
  }

  snapshot(): Record<string, { hits: number; misses: number }> {
    return Object.fromEntries([...this.counts].map(([name, c]) => [name, { ...c }]));
  }
}

export class JsonCache<T> {
  constructor(
    private readonly store: Store,
    readonly name: string,
    private readonly stats: CacheStats,
    private readonly ttlMs: number,
  ) {}

  private key(key: string): string {
    return `cache:${this.name}:${key}`;
  }

  async get(key: string): Promise<T | null> {
    const raw = await this.store.get(this.key(key));
    this.stats.record(this.name, raw !== null);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return null; // a corrupt entry is a miss
    }
  }

  async set(key: string, value: T): Promise<void> {
    await this.store.set(this.key(key), JSON.stringify(value), { ttlMs: this.ttlMs });
  }

  async delete(key: string): Promise<void> {
    await this.store.delete(this.key(key));
  }

  /** The cached value, or `load()`'s result stored for next time (null results are not stored). */
  async getOrLoad(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const cached = await this.get(key);
    if (cached !== null) return cached;
    const value = await load();
    if (value !== null) await this.set(key, value);
    return value;
  }
}
