/**
 * The Store contract, run against every implementation available: the in-memory
 * store always, Redis when REDIS_URL is set (CI runs both).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TEST_REDIS_URL } from '../../../test/harness.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

interface Subject {
  name: string;
  make(): Promise<Store>;
  /** Lets time pass: moves the injected clock (memory) or sleeps (Redis). */
  advance(ms: number): Promise<void>;
}

let clock = 1_000_000;
const subjects: Subject[] = [
  {
    name: 'memory',
    make: async () => new MemoryStore({ maxKeys: 1_000, now: () => clock, sweepIntervalMs: 0 }),
    advance: async (ms) => {
      clock += ms;
    },
  },
];
const redisUrl = TEST_REDIS_URL;
if (redisUrl) {
  subjects.push({
    name: 'redis',
    make: async () => {
      const store = new RedisStore({
        url: redisUrl,
        keyPrefix: `bastion-contract:${process.pid}:${Math.random().toString(36).slice(2)}:`,
        commandTimeoutMs: 2_000,
        logger: silentLogger,
      });
      await store.ready();
      return store;
    },
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
}

describe.each(subjects)('Store contract: $name', (subject) => {
  let store: Store;
  beforeEach(async () => {
    store = await subject.make();
  });
  afterEach(async () => {
    await store.close();
  });

  it('gets what was set and null for missing keys', async () => {
    expect(await store.get('missing')).toBeNull();
    expect(await store.set('k', 'v')).toBe(true);
    expect(await store.get('k')).toBe('v');
    expect(await store.ttl('k')).toBe(-1);
    expect(await store.ttl('missing')).toBeNull();
  });

  it('expires keys after their TTL', async () => {
    await store.set('short', 'v', { ttlMs: 150 });
    const ttl = await store.ttl('short');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(150);
    await subject.advance(250);
    expect(await store.get('short')).toBeNull();
    expect(await store.ttl('short')).toBeNull();
  });

  it('sets only when absent with ifAbsent', async () => {
    expect(await store.set('nonce', 'a', { ifAbsent: true, ttlMs: 10_000 })).toBe(true);
    expect(await store.set('nonce', 'b', { ifAbsent: true, ttlMs: 10_000 })).toBe(false);
    expect(await store.get('nonce')).toBe('a');
  });

  it('deletes and reports whether a key existed', async () => {
    await store.set('gone', 'v');
    expect(await store.delete('gone')).toBe(true);
    expect(await store.delete('gone')).toBe(false);
    expect(await store.get('gone')).toBeNull();
  });

  it('increments atomically within a fixed window', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => store.increment('hits', { ttlMs: 300 })));
    expect(results.map((r) => r.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const after = await store.increment('hits', { ttlMs: 10_000, by: 5 });
    expect(after.value).toBe(55);
    // The window is fixed at creation: a later, longer TTL does not extend it.
    expect(after.ttlMs).toBeLessThanOrEqual(300);
    await subject.advance(400);
    expect((await store.increment('hits', { ttlMs: 300 })).value).toBe(1);
  });

  it('compares and sets', async () => {
    expect(await store.compareAndSet('lock', null, 'one', { ttlMs: 10_000 })).toBe(true);
    expect(await store.compareAndSet('lock', null, 'two')).toBe(false);
    expect(await store.compareAndSet('lock', 'wrong', 'two')).toBe(false);
    expect(await store.compareAndSet('lock', 'one', 'two')).toBe(true);
    expect(await store.get('lock')).toBe('two');
    expect(await store.ttl('lock')).toBe(-1);
  });

  it('lets exactly one of many concurrent compare-and-sets win', async () => {
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.compareAndSet('race', null, `w${i}`)));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('rejects non-positive TTLs', async () => {
    await expect(store.set('k', 'v', { ttlMs: 0 })).rejects.toThrow(RangeError);
    await expect(store.increment('k', { ttlMs: -5 })).rejects.toThrow(RangeError);
  });

  it('rate-limits with GCRA: a burst up to the limit, then a steady refill', async () => {
    const decisions = [];
    for (let i = 0; i < 6; i++) decisions.push(await store.consumeRate('rl', 5, 1_000));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
    expect(decisions.map((d) => d.remaining).slice(0, 5)).toEqual([4, 3, 2, 1, 0]);
    expect(decisions[5]!.retryAfterMs).toBeGreaterThan(0);
    expect(decisions[5]!.retryAfterMs).toBeLessThanOrEqual(200);
    await subject.advance(250); // one interval (1000 / 5 = 200 ms) refills one request
    expect((await store.consumeRate('rl', 5, 1_000)).allowed).toBe(true);
    expect((await store.consumeRate('rl', 5, 1_000)).allowed).toBe(false);
  });

  it('never lets more than the limit through under concurrency', async () => {
    const decisions = await Promise.all(Array.from({ length: 40 }, () => store.consumeRate('burst', 10, 60_000)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
  });

  it('reserves at most the limit of slots under concurrency, and counts no refusal', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, () => store.reserve('slots', { limit: 5, ttlMs: 60_000 })));
    expect(
      results
        .filter((r) => r.allowed)
        .map((r) => r.value)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(results.filter((r) => !r.allowed).every((r) => r.value === 5 && r.blockedMs === 0)).toBe(true);
    await store.release('slots');
    expect((await store.reserve('slots', { limit: 5, ttlMs: 60_000 })).value).toBe(5);
    expect((await store.reserve('slots', { limit: 5, ttlMs: 60_000 })).allowed).toBe(false);
  });

  it('refuses a reservation while the blocking time lies ahead, and releases never go below zero', async () => {
    await store.set('blocker', String(10_000));
    const blocked = await store.reserve('guarded', { limit: 5, ttlMs: 60_000, blockedUntil: { key: 'blocker', now: 9_000 } });
    expect(blocked).toMatchObject({ allowed: false, value: 0, blockedMs: 1_000 });
    const open = await store.reserve('guarded', { limit: 5, ttlMs: 60_000, blockedUntil: { key: 'blocker', now: 10_000 } });
    expect(open).toMatchObject({ allowed: true, value: 1, blockedMs: 0 });
    await Promise.all([store.release('guarded'), store.release('guarded'), store.release('missing')]);
    expect(await store.get('guarded')).toBe('0');
    expect(await store.get('missing')).toBeNull();
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});

describe('MemoryStore bounds', () => {
  it('evicts the least recently used keys beyond maxKeys', async () => {
    const store = new MemoryStore({ maxKeys: 100, sweepIntervalMs: 0 });
    for (let i = 0; i < 100; i++) await store.set(`k${i}`, 'v');
    await store.get('k0'); // touch: k0 becomes most recently used
    for (let i = 100; i < 150; i++) await store.set(`k${i}`, 'v');
    expect(store.size).toBe(100);
    expect(await store.get('k0')).toBe('v');
    expect(await store.get('k1')).toBeNull();
    expect(await store.get('k149')).toBe('v');
    await store.close();
  });

  it('sweeps expired keys without reading them', async () => {
    let now = 0;
    const store = new MemoryStore({ maxKeys: 100, now: () => now, sweepIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await store.set(`t${i}`, 'v', { ttlMs: 1_000 });
    await store.set('keep', 'v');
    now = 1_001;
    store.sweep();
    expect(store.size).toBe(1);
    await store.close();
  });
});
