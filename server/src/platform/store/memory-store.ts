/** In-process store for a single Bastion process: LRU-bounded, TTL-evicted, clock injected. */
import { assertTtl, gcra, type Counter, type RateDecision, type Reservation, type ReserveOptions, type SetOptions, type Store, type ChannelHandlers, type Subscription } from './store.js';

export type Clock = () => number;

interface Entry {
  value: string;
  expiresAt: number | null;
}

export interface MemoryStoreOptions {
  maxKeys: number;
  now?: Clock;
  /** How often expired keys are swept; 0 disables the timer (tests sweep by reading). */
  sweepIntervalMs?: number;
}

export class MemoryStore implements Store {
  readonly kind = 'memory';
  // Processes sharing a memory store are the app instances of this one process: broadcasts are calls.
  private readonly channels = new Map<string, Set<ChannelHandlers>>();
  // Map iteration order is insertion order: re-inserting on access makes it an LRU.
  private readonly entries = new Map<string, Entry>();
  private readonly now: Clock;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MemoryStoreOptions) {
    this.now = options.now ?? Date.now;
    const interval = options.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.timer = setInterval(() => this.sweep(), interval);
      this.timer.unref();
    }
  }

  async publish(channel: string, message: string): Promise<number> {
    const subscribers = [...(this.channels.get(channel) ?? [])];
    for (const handlers of subscribers) handlers.message(message);
    return subscribers.length;
  }

  subscribe(channel: string, handlers: ChannelHandlers): Subscription {
    let set = this.channels.get(channel);
    if (!set) this.channels.set(channel, (set = new Set()));
    set.add(handlers);
    return { live: true, close: async () => void set.delete(handlers) };
  }

  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    assertTtl(options.ttlMs);
    if (options.ifAbsent && this.live(key)) return false;
    this.write(key, { value, expiresAt: options.ttlMs ? this.now() + options.ttlMs : null });
    return true;
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.entries.delete(key);
    return existed;
  }

  async increment(key: string, options: { ttlMs: number; by?: number }): Promise<Counter> {
    assertTtl(options.ttlMs);
    const entry = this.live(key);
    const current = entry ? Number(entry.value) : 0;
    if (!Number.isInteger(current)) throw new TypeError(`value at "${key}" is not an integer`);
    const expiresAt = entry?.expiresAt ?? this.now() + options.ttlMs;
    const value = current + (options.by ?? 1);
    this.write(key, { value: String(value), expiresAt });
    return { value, ttlMs: expiresAt - this.now() };
  }

  async reserve(key: string, options: ReserveOptions): Promise<Reservation> {
    assertTtl(options.ttlMs);
    const entry = this.live(key);
    const value = entry ? Number(entry.value) : 0;
    const ttlMs = entry?.expiresAt ? entry.expiresAt - this.now() : entry ? -1 : 0;
    if (options.blockedUntil) {
      const until = Number(this.live(options.blockedUntil.key)?.value ?? 0);
      if (until > options.blockedUntil.now) return { allowed: false, value, ttlMs, blockedMs: until - options.blockedUntil.now };
    }
    if (value >= options.limit) return { allowed: false, value, ttlMs, blockedMs: 0 };
    const counter = await this.increment(key, { ttlMs: options.ttlMs });
    return { allowed: true, value: counter.value, ttlMs: counter.ttlMs, blockedMs: 0 };
  }

  async release(key: string): Promise<void> {
    const entry = this.live(key);
    if (entry && Number(entry.value) > 0) entry.value = String(Number(entry.value) - 1);
  }

  async compareAndSet(key: string, expected: string | null, next: string, options: { ttlMs?: number } = {}): Promise<boolean> {
    assertTtl(options.ttlMs);
    const current = this.live(key)?.value ?? null;
    if (current !== expected) return false;
    this.write(key, { value: next, expiresAt: options.ttlMs ? this.now() + options.ttlMs : null });
    return true;
  }

  async consumeRate(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = this.now();
    const stored = this.live(key);
    const { decision, newTat } = gcra(stored ? Number(stored.value) : null, now, limit, windowMs);
    if (newTat !== null) this.write(key, { value: String(newTat), expiresAt: Math.ceil(newTat) });
    return decision;
  }

  async ttl(key: string): Promise<number | null> {
    const entry = this.live(key);
    if (!entry) return null;
    return entry.expiresAt === null ? -1 : entry.expiresAt - this.now();
  }

  async ping(): Promise<void> {}

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.entries.clear();
  }

  /** Drops every expired entry. */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) this.entries.delete(key);
    }
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Touch: move to the most recently used end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  private write(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.options.maxKeys) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
