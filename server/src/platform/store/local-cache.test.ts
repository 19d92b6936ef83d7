/** The in-process cache: hits are served, an invalidation on one instance drops the entry on every other, a dropped broadcast connection drops everything. */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL, testStore } from '../../../test/harness.js';
import { sameStoreElsewhere } from '../../../test/instances.js';
import { LocalCache } from './local-cache.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

const redisUrl = TEST_REDIS_URL;
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

/** Two instances' views of one store: a second Redis connection on the same prefix, or the same memory store. */
async function twoInstances(): Promise<[Store, Store]> {
  const first = await testStore();
  const second = sameStoreElsewhere(first);
  opened.push(first);
  if (second !== first) {
    await (second as RedisStore).ready();
    opened.push(second);
  }
  return [first, second];
}

function cacheOn(store: Store): LocalCache<string> {
  const cache = new LocalCache<string>(store, 'test', { ttlMs: 60_000, maxEntries: 100 });
  opened.push(cache);
  return cache;
}

/** Until the subscription is live (Redis: the subscriber connected), nothing is cached. */
async function warm(cache: LocalCache<string>, key: string, load: () => Promise<string | null>): Promise<void> {
  const deadline = Date.now() + 5_000;
  let loads = 0;
  const counting = async () => (loads++, load());
  for (;;) {
    const before = loads;
    await cache.getOrLoad(key, counting);
    await cache.getOrLoad(key, counting);
    if (loads === before + 1) return; // the second read was a hit
    if (Date.now() > deadline) throw new Error('the cache never became live');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('LocalCache', () => {
  it('serves a hit without loading, and an invalidation on one instance reaches the other before it resolves', async () => {
    const [a, b] = await twoInstances();
    const cacheA = cacheOn(a);
    const cacheB = cacheOn(b);
    let source = 'v1';
    await warm(cacheB, 'k', async () => source);
    await warm(cacheA, 'k', async () => source);
    source = 'v2';
    expect(await cacheB.getOrLoad('k', async () => source)).toBe('v1'); // a hit: the source was not asked
    // The publish returns when every receiving connection confirmed it handled the message.
    await cacheA.invalidate('k');
    expect(await cacheB.getOrLoad('k', async () => source)).toBe('v2');
    expect(await cacheA.getOrLoad('k', async () => source)).toBe('v2');
  });

  it('loads once for concurrent misses of one key (an entry expiring under load costs one load)', async () => {
    const [store] = await twoInstances();
    const cache = cacheOn(store);
    let loads = 0;
    const slowLoad = async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 'v';
    };
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad('k', slowLoad)));
    expect(values).toEqual(Array(20).fill('v'));
    expect(loads).toBe(1);
  });

  it('does not keep a value loaded before an invalidation that arrived during the load', async () => {
    const [store] = await twoInstances();
    const cache = cacheOn(store);
    await warm(cache, 'other', async () => 'x'); // live
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = cache.getOrLoad('k', async () => {
      await gate;
      return 'stale';
    });
    await cache.invalidate('k');
    release();
    expect(await slow).toBe('stale');
    expect(await cache.getOrLoad('k', async () => 'fresh')).toBe('fresh');
  });

  // A memory store has no connection to lose: this one runs on the Redis pass.
  if (redisUrl)
    it('drops everything when the broadcast connection drops (messages may have been missed)', async () => {
      const [store] = await twoInstances();
      if (!(store instanceof RedisStore)) throw new Error('REDIS_URL is set: the store is Redis');
      const cache = cacheOn(store);
      await warm(cache, 'k', async () => 'v1');
      const admin = new Redis(redisUrl!);
      try {
        // Only this store's subscriber (named after its prefix), not other tests' connections.
        const name = `${store.prefix}subscriber`.replace(/[^\w:.-]/g, '_');
        const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
        const id = /id=(\d+)[^\n]* name=(\S*)/g;
        const ids = [...list.matchAll(id)].filter((m) => m[2] === name).map((m) => m[1]!);
        expect(ids).toHaveLength(1);
        await admin.call('CLIENT', 'KILL', 'ID', ids[0]!);
      } finally {
        admin.disconnect();
      }
      // The drop reaches the subscriber as an EOF on its socket: let it arrive. Once the
      // connection is back (a hit is served again), what was cached before the drop is gone.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await warm(cache, 'probe', async () => 'p');
      expect(await cache.getOrLoad('k', async () => 'v2')).toBe('v2');
    });
});
