/**
 * Cancelling across API copies: the broadcast carries it while it is live, with no store
 * reads per answer; a copy that missed it (broadcast connection down, or back after a drop)
 * finds the flag. Runs on the store of the test run (Redis when REDIS_URL is set).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { testStore } from '../../../test/harness.js';
import type { ChannelHandlers, Store } from '../../platform/store/store.js';
import { Cancellations, POLL_MS } from './cancellation.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function sharedStore(): Promise<{ store: Store; flagReads: () => number }> {
  const store = await testStore();
  open.push(store);
  let reads = 0;
  const get = store.get.bind(store);
  store.get = (key: string) => {
    if (key.startsWith('chat:cancel:')) reads++;
    return get(key);
  };
  // The broadcast connection is opened on first use; wait until it receives.
  const probe = store.subscribe('probe', { message: () => undefined, reset: () => undefined });
  await expect.poll(() => probe.live, { timeout: 5_000 }).toBe(true);
  await probe.close();
  return { store, flagReads: () => reads };
}

/** A copy whose broadcast connection is cut: it receives nothing, and `live` is what the test says. */
function cutOff(store: Store): { store: Store; setLive(live: boolean): void; handlers: () => ChannelHandlers } {
  let live = false;
  let handlers: ChannelHandlers | undefined;
  const copy = Object.create(store) as Store;
  copy.subscribe = (_channel, given) => {
    handlers = given;
    return {
      get live() {
        return live;
      },
      close: async () => undefined,
    };
  };
  return { store: copy, setLive: (value) => (live = value), handlers: () => handlers! };
}

function cancellations(store: Store): Cancellations {
  const made = new Cancellations(store);
  open.push(made);
  return made;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Cancellations', () => {
  it('cancels here at once and says so', async () => {
    const { store } = await sharedStore();
    const here = cancellations(store);
    const answer = here.track('conv-local', 1_000);
    expect(await here.cancel('conv-local', 2_000)).toBe(true);
    expect(answer.signal.aborted).toBe(true);
    expect(answer.signal.reason).toBe('cancelled');
    answer.done();
    expect(await here.cancel('conv-local', 3_000)).toBe(false);
  });

  it('cancels an answer on another copy through the broadcast, reading no flag while it is live', async () => {
    const { store, flagReads } = await sharedStore();
    const streaming = cancellations(store);
    const other = cancellations(store);
    const answer = streaming.track('conv-a', 1_000);
    const later = streaming.track('conv-a', 3_000); // started after the cancel below
    const unrelated = streaming.track('conv-b', 1_000);
    await sleep(3 * POLL_MS);
    expect(flagReads()).toBe(0);
    expect(await other.cancel('conv-a', 2_000)).toBe(false);
    await expect.poll(() => answer.signal.aborted, { timeout: 2_000 }).toBe(true);
    expect(answer.signal.reason).toBe('cancelled');
    expect(later.signal.aborted).toBe(false);
    expect(unrelated.signal.aborted).toBe(false);
    expect(flagReads()).toBe(0);
    for (const tracked of [answer, later, unrelated]) tracked.done();
  });

  it('finds the flag by polling while its broadcast connection is down', async () => {
    const { store, flagReads } = await sharedStore();
    const cut = cutOff(store);
    const streaming = cancellations(cut.store);
    const other = cancellations(store);
    const answer = streaming.track('conv-c', 1_000);
    await other.cancel('conv-c', 2_000);
    await expect.poll(() => answer.signal.aborted, { timeout: 2_000 }).toBe(true);
    expect(flagReads()).toBeGreaterThan(0);
    answer.done();
  });

  it('reads the flags once when its broadcast comes back, for what it missed', async () => {
    const { store } = await sharedStore();
    const cut = cutOff(store);
    cut.setLive(true); // believes it is live, but the broadcast below never reaches it
    const streaming = cancellations(cut.store);
    const other = cancellations(store);
    const answer = streaming.track('conv-d', 1_000);
    await other.cancel('conv-d', 2_000);
    await sleep(3 * POLL_MS);
    expect(answer.signal.aborted).toBe(false); // live: no polling
    cut.handlers().reset(); // the store reports a drop: messages may have been missed
    await expect.poll(() => answer.signal.aborted, { timeout: 2_000 }).toBe(true);
    answer.done();
  });
});
