/**
 * A short-lived in-process cache in front of a shared source (the store, the database),
 * kept coherent across instances by broadcasts on the store: `invalidate(key)` drops the
 * entry here and on every instance before it resolves (the store's publish waits until every
 * receiving instance confirmed it handled the message). It serves only while its
 * subscription is live; when the broadcast connection drops, everything is dropped and
 * every read goes to the source until it is back.
 *
 * A load that started before an invalidation is not cached (the generation check), so a
 * value read just before a change cannot outlive the change here.
 */
import type { CacheStats } from './cache.js';
import type { Store, Subscription } from './store.js';

export interface LocalCacheOptions {
  /** How long an entry is served without asking the source again. */
  ttlMs: number;
  /** Entries kept; the oldest go first. */
  maxEntries: number;
  /** Hit and miss counts, under the cache's name. */
  stats?: CacheStats | undefined;
  now?: () => number;
}

const EVERYTHING = '*';

export class LocalCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  /** Loads in flight, shared by concurrent misses of one key (when an entry expires under load, one load, not one per request). */
  private readonly loading = new Map<string, Promise<V | null>>();
  private readonly subscription: Subscription;
  private readonly channel: string;
  private readonly now: () => number;
  private generation = 0;

  constructor(
    private readonly store: Store,
    readonly name: string,
    private readonly options: LocalCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.channel = `invalidate:${name}`;
    this.subscription = store.subscribe(this.channel, {
      message: (key) => this.drop(key),
      reset: () => this.drop(EVERYTHING),
    });
  }

  /** The cached value, or what `load` returns (cached unless null or invalidated meanwhile). */
  async getOrLoad(key: string, load: () => Promise<V | null>): Promise<V | null> {
    if (this.subscription.live) {
      const entry = this.entries.get(key);
      if (entry && entry.expiresAt > this.now()) {
        this.options.stats?.record(this.name, true);
        return entry.value;
      }
    }
    this.options.stats?.record(this.name, false);
    const inFlight = this.loading.get(key);
    if (inFlight) return inFlight;
    const generation = this.generation;
    const loaded = load().then(
      (value) => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
        if (value !== null && this.subscription.live && generation === this.generation) this.put(key, value);
        return value;
      },
      (error: unknown) => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  /** Replaces this instance's entry (after a write through, e.g. a refreshed session). */
  update(key: string, value: V): void {
    if (this.subscription.live && this.entries.has(key)) this.put(key, value);
  }

  /** Drops `key` here and on every instance sharing the store. */
  async invalidate(key: string): Promise<void> {
    this.drop(key);
    await this.store.publish(this.channel, key);
  }

  /** Drops every entry here and on every instance. */
  async invalidateAll(): Promise<void> {
    await this.invalidate(EVERYTHING);
  }

  async close(): Promise<void> {
    this.entries.clear();
    await this.subscription.close();
  }

  private put(key: string, value: V): void {
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.options.ttlMs });
  }

  private drop(key: string): void {
    this.generation++;
    // A load in flight may have read the old value: later misses start their own.
    if (key === EVERYTHING) {
      this.entries.clear();
      this.loading.clear();
    } else {
      this.entries.delete(key);
      this.loading.delete(key);
    }
  }
}
