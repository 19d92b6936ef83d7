/**
 * Rate limits per principal and per endpoint class, shared by two app instances on one
 * store (one Redis in the PostgreSQL + Redis run), trusted proxies, and deprecation headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, PASSWORD } from '../../test/accounts.js';
import { apiUser } from '../../test/api-client.js';
import { BrowserClient } from '../../test/browser-client.js';
import { burst } from '../../test/parallel.js';
import { buildTestApp, silentLogger, testStore, TEST_REDIS_URL, type TestApp } from '../../test/harness.js';
import type { App } from './app-type.js';
import { RedisStore } from '../platform/store/redis-store.js';
import type { Store } from '../platform/store/store.js';
import { RATE_LIMIT_POLICIES } from './rate-limit.js';

const REPORT_LIMIT = RATE_LIMIT_POLICIES.report.limit;
const AUTH_LIMIT = RATE_LIMIT_POLICIES.auth.limit;

function probes(app: App): void {
  app.get('/api/v1/probe/limited', { config: { rateLimit: 'report' } }, async () => ({ ok: true }));
  app.get('/api/v1/probe/old', { schema: { summary: 'Old probe' } }, async () => ({ ok: true }));
}

/** Two API instances sharing one store: two Redis clients on the same prefix, or one memory store. */
async function twoInstances(env: Record<string, string> = {}): Promise<{ a: TestApp; b: TestApp; close(): Promise<void> }> {
  const shared = await testStore();
  let second: Store = shared;
  if (TEST_REDIS_URL && shared instanceof RedisStore) {
    second = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: shared.prefix, commandTimeoutMs: 2_000, logger: silentLogger });
    await second.ready();
  }
  const deprecations = new Map([['GET /api/v1/probe/old', { since: new Date('2026-06-01T00:00:00Z'), sunset: new Date('2027-06-01T00:00:00Z'), link: 'https://bastion.example.org/docs/api#v1-probe-old' }]]);
  const a = await buildTestApp({ store: shared, routes: probes, deprecations, env: { REQUIRE_MFA: 'none', ...env } });
  const b = await buildTestApp({ store: second, database: a.database, routes: probes, deprecations, env: { REQUIRE_MFA: 'none', ...env } });
  return {
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
      await shared.close();
      if (second !== shared) await second.close();
    },
  };
}

describe('rate limits', () => {
  let pair: Awaited<ReturnType<typeof twoInstances>>;
  beforeAll(async () => {
    pair = await twoInstances();
  });
  afterAll(async () => {
    await pair.close();
  });

  it('holds one budget across two instances, with RateLimit headers and Retry-After', async () => {
    const ip = '10.77.0.1';
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < REPORT_LIMIT + 2; i++) {
      const app = i % 2 === 0 ? pair.a.app : pair.b.app;
      last = await app.inject({ url: '/api/v1/probe/limited', remoteAddress: ip });
      statuses.push(last.statusCode);
      expect(last.headers['ratelimit-policy']).toBe(`"report";q=${REPORT_LIMIT};w=60`);
      expect(String(last.headers.ratelimit)).toMatch(/^"report";r=\d+;t=\d+$/);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(REPORT_LIMIT);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect(last!.json().error.code).toBe('rate_limited');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(last!.json().error.message).toMatch(/try again in \d+ seconds?\./);
  });

  it('keeps endpoint classes apart and gives each signed-in user their own budget [ASVS 2.4.1]', async () => {
    const ip = '10.77.0.2';
    for (let i = 0; i < REPORT_LIMIT; i++) await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: ip });
    expect((await pair.b.app.inject({ url: '/api/v1/probe/limited', remoteAddress: ip })).statusCode).toBe(429);
    expect((await pair.b.app.inject({ url: '/api/v1/openapi.json', remoteAddress: ip })).statusCode).toBe(200); // "read" class

    await createUser(pair.a.database, { email: 'limits-a@example.org' });
    await createUser(pair.a.database, { email: 'limits-b@example.org' });
    const alice = new BrowserClient(pair.a.app, undefined, undefined, ip);
    const bob = new BrowserClient(pair.b.app, undefined, undefined, ip);
    await alice.signIn('limits-a@example.org', PASSWORD);
    await bob.signIn('limits-b@example.org', PASSWORD);
    for (let i = 0; i < REPORT_LIMIT; i++) expect((await alice.request('GET', '/probe/limited')).statusCode).toBe(200);
    expect((await alice.request('GET', '/probe/limited')).statusCode).toBe(429);
    expect((await bob.request('GET', '/probe/limited')).statusCode).toBe(200); // same IP, other user
  });

  it('limits API keys and access tokens per user: not per address, and never on a neighbour’s budget', async () => {
    const alice = await apiUser(pair.a);
    const bob = await apiUser(pair.a);
    const token = (await pair.a.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { authorization: `Bearer ${alice.key}` }, payload: { grantType: 'api_key' } })).json().accessToken as string;
    const limited = (app: App, credential: string, ip: string) => app.inject({ url: '/api/v1/probe/limited', remoteAddress: ip, headers: { authorization: `Bearer ${credential}` } });
    // Released at once over real HTTP: exactly the budget passes, key and token together.
    const responses = await burst(
      pair.a.app,
      Array.from({ length: REPORT_LIMIT + 10 }, (_, i) => ({ method: 'GET' as const, url: '/api/v1/probe/limited', headers: { authorization: `Bearer ${i % 2 ? alice.key : token}` } })),
    );
    expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(REPORT_LIMIT);
    expect(responses.filter((r) => r.statusCode === 429)).toHaveLength(10);
    expect((await limited(pair.b.app, alice.key, '10.77.0.9')).statusCode).toBe(429); // a new address is no new budget
    expect((await limited(pair.b.app, token, '10.77.0.10')).statusCode).toBe(429);
    expect((await limited(pair.a.app, bob.key, '127.0.0.1')).statusCode).toBe(200); // same address, other user
  });

  it('limits guessing of bearer credentials like any other request', async () => {
    const ip = '10.77.0.5';
    const statuses: number[] = [];
    for (let i = 0; i < REPORT_LIMIT + 1; i++) {
      const response = await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: ip, headers: { authorization: `Bearer bst_key_${'A'.repeat(43)}_00000000` } });
      statuses.push(response.statusCode);
    }
    expect(statuses.slice(0, REPORT_LIMIT).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });

  it('cannot be bypassed by percent-encoding the path', async () => {
    const ip = '10.77.0.6';
    const statuses: number[] = [];
    for (let i = 0; i < REPORT_LIMIT + 1; i++) {
      statuses.push((await pair.a.app.inject({ url: i % 2 ? '/%61pi/v1/probe/limited' : '/api/v1/probe/%6cimited', remoteAddress: ip })).statusCode);
    }
    expect(statuses.at(-1)).toBe(429);
    const me = await pair.a.app.inject({ url: '/%61pi/v1/me', remoteAddress: '10.77.0.7' });
    expect(me.statusCode).toBe(401);
  });

  it('limits sign-in attempts per client strictly [ASVS 6.3.1]', async () => {
    const ip = '10.77.0.3';
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < AUTH_LIMIT + 3; i++) {
      const response = await pair.a.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { email: `nobody${i}@example.org`, password: 'x' } });
      statuses.push(response.statusCode);
    }
    // GCRA refills one attempt every minute / AUTH_LIMIT: a slow (loaded) run may earn one back.
    const refilled = Math.floor(((Date.now() - started) / 60_000) * AUTH_LIMIT);
    expect(statuses.slice(0, AUTH_LIMIT).every((s) => s === 401)).toBe(true);
    expect(statuses.filter((s) => s === 401).length, statuses.join(',')).toBeLessThanOrEqual(AUTH_LIMIT + refilled);
    expect(statuses.at(-1)).toBe(429);
  });

  it('adds Deprecation, Sunset and Link headers to deprecated routes and flags them in OpenAPI', async () => {
    const response = await pair.a.app.inject({ url: '/api/v1/probe/old', remoteAddress: '10.77.0.4' });
    expect(response.headers.deprecation).toBe(`@${Date.parse('2026-06-01T00:00:00Z') / 1000}`);
    expect(response.headers.sunset).toBe('Tue, 01 Jun 2027 00:00:00 GMT');
    expect(response.headers.link).toBe('<https://bastion.example.org/docs/api#v1-probe-old>; rel="deprecation"; type="text/html"');
    expect((await pair.a.app.inject({ url: '/api/v1/healthz' })).headers.deprecation).toBeUndefined();
    const doc = (await pair.a.app.inject({ url: '/api/v1/openapi.json' })).json();
    expect(doc.paths['/api/v1/probe/old'].get.deprecated).toBe(true);
    expect(doc.paths['/api/v1/probe/old'].get.description).toMatch(/Deprecated.*2027-06-01/);
  });
});

describe('client IP and trusted proxies', () => {
  it('ignores X-Forwarded-For from an untrusted peer, so spoofing does not reset a limit [ASVS 4.1.3, 15.3.4]', async () => {
    const pair = await twoInstances();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < REPORT_LIMIT + 1; i++) {
        const response = await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: '198.51.100.20', headers: { 'x-forwarded-for': `203.0.113.${i}` } });
        statuses.push(response.statusCode);
      }
      expect(statuses.at(-1)).toBe(429);
    } finally {
      await pair.close();
    }
  });

  it('believes X-Forwarded-For only from TRUSTED_PROXIES [ASVS 4.1.3, 15.3.4]', async () => {
    const pair = await twoInstances({ TRUSTED_PROXIES: '127.0.0.1' });
    try {
      for (let i = 0; i < REPORT_LIMIT; i++) {
        await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.1' } });
      }
      const same = await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.1' } });
      expect(same.statusCode).toBe(429);
      const other = await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.2' } });
      expect(other.statusCode).toBe(200);
      const untrustedPeer = await pair.a.app.inject({ url: '/api/v1/probe/limited', remoteAddress: '192.0.2.9', headers: { 'x-forwarded-for': '203.0.113.1' } });
      expect(untrustedPeer.statusCode).toBe(200); // its own budget, keyed by the peer address
    } finally {
      await pair.close();
    }
  });
});
