/**
 * Scale-out fixtures: what a second API process sees of the shared backends, and two API
 * instances on one database and store behind (as if) a load balancer, over real HTTP.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Env } from '../src/config/index.js';
import { RedisStore } from '../src/platform/store/redis-store.js';
import type { Store } from '../src/platform/store/store.js';
import { BrowserClient } from './browser-client.js';
import { buildTestApp, silentLogger, TEST_REDIS_URL, testStore, type TestApp } from './harness.js';

/** The same store as another process reaches it: its own Redis connections on the same prefix (a memory store is shared as is). */
export function sameStoreElsewhere(store: Store): Store {
  return store instanceof RedisStore ? new RedisStore({ url: TEST_REDIS_URL!, keyPrefix: store.prefix, commandTimeoutMs: 2_000, logger: silentLogger }) : store;
}

export interface TwoInstances {
  readonly a: TestApp;
  readonly b: TestApp;
  /** http://127.0.0.1:<port> of each. */
  readonly urlA: string;
  readonly urlB: string;
  /** The store as instance A reaches it. */
  readonly store: Store;
}

/** Two API instances on one database and store, listening on loopback, for the tests of a file. */
export function useTwoInstances(env: Env): TwoInstances {
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  let storeA: Store | undefined;
  let storeB: Store | undefined;
  let urlA = '';
  let urlB = '';
  beforeAll(async () => {
    storeA = await testStore();
    storeB = sameStoreElsewhere(storeA);
    a = await buildTestApp({ store: storeA, env });
    b = await buildTestApp({ store: storeB, database: a.database, env });
    urlA = await a.app.listen({ host: '127.0.0.1', port: 0 });
    urlB = await b.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    if (storeB && storeB !== storeA) await storeB.close();
    await storeA?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('instances not started');
    return value;
  };
  return {
    get a() {
      return started(a);
    },
    get b() {
      return started(b);
    },
    get urlA() {
      return urlA;
    },
    get urlB() {
      return urlB;
    },
    get store() {
      return started(storeA);
    },
  };
}

/** The same browser's requests reaching the other instance (a load balancer). */
export function sameBrowserOn(t: TestApp, browser: BrowserClient): BrowserClient {
  const other = new BrowserClient(t.app, undefined, browser.userAgent, browser.ip);
  other.cookies = new Map(browser.cookies);
  other.csrf = browser.csrf;
  return other;
}
