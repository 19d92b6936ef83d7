import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../platform/store/memory-store.js';
import type { Store } from '../../platform/store/store.js';
import { BatchedCounter } from './batched-counter.js';

/** The store with its increments counted. */
function countingStore(): { store: Store; increments: { key: string; by: number | undefined }[] } {
  const inner = new MemoryStore({ maxKeys: 1_000, sweepIntervalMs: 0 });
  const increments: { key: string; by: number | undefined }[] = [];
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'increment') {
        return (key: string, options: { ttlMs: number; by?: number }) => {
          increments.push({ key, by: options.by });
          return target.increment(key, options);
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  return { store, increments };
}

describe('BatchedCounter', () => {
  it('writes one increment per key per flush, and every add learns the running total', async () => {
    const { store, increments } = countingStore();
    const counter = new BatchedCounter(store, 20);
    const first = await Promise.all([...Array.from({ length: 50 }, () => counter.add('a', 60_000)), counter.add('b', 60_000)]);
    expect(first.slice(0, 50)).toEqual(Array(50).fill(50));
    expect(first[50]).toBe(1);
    expect(increments).toEqual([
      { key: 'a', by: 50 },
      { key: 'b', by: 1 },
    ]);
    // The next flush adds to the same window.
    expect(await Promise.all([counter.add('a', 60_000), counter.add('a', 60_000)])).toEqual([52, 52]);
    expect(increments).toHaveLength(3);
  });

  it('rejects the adds of a flush that failed, and counts on afterwards', async () => {
    let fail = true;
    const inner = new MemoryStore({ maxKeys: 1_000, sweepIntervalMs: 0 });
    const store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'increment' && fail) return () => Promise.reject(new Error('store down'));
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const counter = new BatchedCounter(store, 5);
    await expect(counter.add('a', 60_000)).rejects.toThrow('store down');
    fail = false;
    expect(await counter.add('a', 60_000)).toBe(1);
  });
});
