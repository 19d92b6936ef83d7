/**
 * `SlidingWindows.once`: the store decides who is first (set-if-absent), and a process that
 * knows a window is taken stops asking the store for the rest of it. Runs on the store of
 * the test run (Redis when REDIS_URL is set, else memory).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { testStore } from '../../../test/harness.js';
import { ManualClock } from '../../platform/clock.js';
import type { Store } from '../../platform/store/store.js';
import { SlidingWindows } from './windows.js';

const WINDOW_MS = 60_000;
const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** The store of the run, counting its set calls. */
async function countingStore(): Promise<{ store: Store; sets: () => number }> {
  const store = await testStore();
  stores.push(store);
  let sets = 0;
  const set = store.set.bind(store);
  store.set = (...args: Parameters<Store['set']>) => {
    sets++;
    return set(...args);
  };
  return { store, sets: () => sets };
}

describe('SlidingWindows.once', () => {
  it('is true once per window, and asks the store once per window however often it is called', async () => {
    const { store, sets } = await countingStore();
    const clock = new ManualClock(new Date('2026-03-01T10:00:00Z'));
    const windows = new SlidingWindows(store, clock);
    const answers = [];
    for (let i = 0; i < 50; i++) answers.push(await windows.once('request_volume', 'user:u1', WINDOW_MS));
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(answers[0]).toBe(true);
    expect(sets()).toBe(1);
    // Another key and another rule are windows of their own.
    expect(await windows.once('request_volume', 'user:u2', WINDOW_MS)).toBe(true);
    expect(await windows.once('error_ratio', 'user:u1', WINDOW_MS)).toBe(true);
    // The next window fires again, and asks the store again.
    clock.advance(WINDOW_MS);
    expect(await windows.once('request_volume', 'user:u1', WINDOW_MS)).toBe(true);
    expect(await windows.once('request_volume', 'user:u1', WINDOW_MS)).toBe(false);
    expect(sets()).toBe(4);
  });

  it('gives one true among processes asking at once, and each learns the window is taken', async () => {
    const { store, sets } = await countingStore();
    const clock = new ManualClock(new Date('2026-03-01T11:00:00Z'));
    const processes = Array.from({ length: 4 }, () => new SlidingWindows(store, clock));
    const answers = await Promise.all(processes.flatMap((windows) => Array.from({ length: 10 }, () => windows.once('enumeration', 'ip:192.0.2.9', WINDOW_MS))));
    expect(answers.filter(Boolean)).toHaveLength(1);
    const asked = sets();
    const again = await Promise.all(processes.map((windows) => windows.once('enumeration', 'ip:192.0.2.9', WINDOW_MS)));
    expect(again.every((answer) => !answer)).toBe(true);
    expect(sets()).toBe(asked);
  });

  it('asks the store again when the store failed', async () => {
    const { store } = await countingStore();
    const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
    const windows = new SlidingWindows(store, clock);
    const set = store.set.bind(store);
    store.set = () => Promise.reject(new Error('store unavailable'));
    await expect(windows.once('brute_force', 'account:a', WINDOW_MS)).rejects.toThrow('store unavailable');
    store.set = set;
    expect(await windows.once('brute_force', 'account:a', WINDOW_MS)).toBe(true);
  });
});
