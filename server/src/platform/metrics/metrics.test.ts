/** Prometheus metrics: who may read them, and that each metric records the real event. */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { createUser, PASSWORD } from '../../../test/accounts.js';
import { buildTestApp, freePort, type TestApp } from '../../../test/harness.js';
import { Metrics } from './metrics.js';
import { parseExposition, samplesOf, valueOf, type Sample } from './scrape.js';

const TOKEN = randomBytes(32).toString('hex');
const auth = { authorization: `Bearer ${TOKEN}` };

async function scrape(t: TestApp): Promise<Sample[]> {
  const response = await t.app.inject({ url: '/metrics', headers: auth });
  expect(response.statusCode).toBe(200);
  return parseExposition(response.body);
}

describe('GET /metrics exposure', () => {
  it('answers 404 when neither METRICS_TOKEN nor METRICS_PORT is set', async () => {
    const t = await buildTestApp();
    try {
      for (const headers of [{}, auth]) {
        const response = await t.app.inject({ url: '/metrics', headers });
        expect(response.statusCode).toBe(404);
        expect(response.json().error.code).toBe('not_found');
        expect(response.body).not.toContain('bastion_');
      }
    } finally {
      await t.close();
    }
  });

  it('serves the token holder and refuses a missing or wrong token with 401', async () => {
    const t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN } });
    try {
      const wrong = ['', 'Bearer', `Bearer ${'0'.repeat(TOKEN.length)}`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`];
      for (const authorization of wrong) {
        const response = await t.app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} });
        expect(response.statusCode, authorization).toBe(401);
        expect(response.json().error.code).toBe('unauthenticated');
        expect(response.headers['www-authenticate']).toBe('Bearer realm="metrics"');
        expect(response.body).not.toContain('bastion_');
      }
      const response = await t.app.inject({ url: '/metrics', headers: auth });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(response.headers['cache-control']).toBe('no-store');
      for (const family of ['bastion_http_request_duration_seconds', 'nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
        expect(response.body).toContain(`# TYPE ${family} `);
      }
    } finally {
      await t.close();
    }
  });

  it('serves a METRICS_PORT listener with metrics only, and not the main port', async () => {
    const port = await freePort();
    const t = await buildTestApp({ env: { METRICS_PORT: String(port) } });
    try {
      expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(404);
      const internal = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(internal.status).toBe(200);
      expect(internal.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await internal.text()).toContain('# TYPE bastion_http_request_duration_seconds histogram');
      // Only /metrics: not the API, not the probes.
      for (const [method, path] of [
        ['GET', '/healthz'],
        ['GET', '/api/v1/agents'],
        ['POST', '/metrics'],
      ] as const) {
        const other = await fetch(`http://127.0.0.1:${port}${path}`, { method });
        expect(other.status, `${method} ${path}`).toBe(404);
        expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
      }
    } finally {
      await t.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow(); // closed with the app
  });

  it('asks for the token on the METRICS_PORT listener too when one is set', async () => {
    const port = await freePort();
    const t = await buildTestApp({ env: { METRICS_PORT: String(port), METRICS_TOKEN: TOKEN } });
    try {
      const refused = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer nope' } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('recorded metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN, REQUIRE_MFA: 'none' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('labels latency by route pattern, never by URL, and leaves /metrics out', async () => {
    const user = await apiUser(t);
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) expect((await user.get(`/agents/${id}`)).statusCode).toBe(404);
    await t.app.inject({ url: `/no-such-page/${ids[0]}` });
    await t.app.inject({ url: `/no-such-page/${ids[1]}` });
    await scrape(t);
    const response = await t.app.inject({ url: '/metrics', headers: auth });
    const samples = parseExposition(response.body);
    const agent = samplesOf(samples, 'bastion_http_request_duration_seconds_count', { route: '/api/v1/agents/:id' });
    expect(agent).toEqual([{ name: 'bastion_http_request_duration_seconds_count', labels: { route: '/api/v1/agents/:id', method: 'GET', status_class: '4xx' }, value: 2 }]);
    expect(valueOf(samples, 'bastion_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_class: '4xx' })).toBe(2);
    expect(samplesOf(samples, 'bastion_http_request_duration_seconds_count', { route: '/metrics' })).toEqual([]);
    for (const id of ids) expect(response.body).not.toContain(id);
    // Buckets from 5 ms to 10 s.
    const les = samplesOf(samples, 'bastion_http_request_duration_seconds_bucket', { route: '/api/v1/agents/:id' }).map((s) => s.labels.le);
    expect(les).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
  });

  it('counts failed sign-ins and refused API credentials by kind, never by user', async () => {
    const email = `metrics-${randomUUID()}@example.org`;
    await createUser(t.database, { email });
    const kinds = async () => {
      const samples = samplesOf(await scrape(t), 'bastion_auth_failures_total');
      for (const sample of samples) expect(Object.keys(sample.labels)).toEqual(['kind']);
      return Object.fromEntries(samples.map((s) => [s.labels.kind, s.value]));
    };
    const before = await kinds();
    const login = (password: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
    expect((await login('wrong password entirely')).statusCode).toBe(401);
    expect((await login(PASSWORD)).statusCode).toBe(200); // a success is not counted
    for (const authorization of [`Bearer bst_key_${'x'.repeat(40)}`, 'Bearer aaa.bbb.ccc', 'Basic dXNlcjpwYXNz']) {
      expect((await t.app.inject({ url: '/api/v1/agents', headers: { authorization } })).statusCode).toBe(401);
    }
    const after = await kinds();
    const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
    expect([delta('password'), delta('api_key'), delta('access_token'), delta('malformed_credential')]).toEqual([1, 1, 1, 1]);
    expect(JSON.stringify(after)).not.toContain(email);
  });

  it('exports cache hits and misses from the cache statistics, without double counting', async () => {
    const user = await apiUser(t);
    const agent = (await user.post('/agents', { name: 'Cached' })).json();
    expect((await user.get(`/agents/${agent.id}`)).statusCode).toBe(200);
    const first = await scrape(t);
    expect((await user.get(`/agents/${agent.id}`)).statusCode).toBe(200);
    const second = await scrape(t);
    const hits = (samples: Sample[]) => valueOf(samples, 'bastion_cache_requests_total', { cache: 'agent', result: 'hit' }) ?? 0;
    expect(hits(second) - hits(first)).toBe(1);
    expect(hits(await scrape(t))).toBe(hits(second)); // scraping adds nothing
    expect(valueOf(second, 'bastion_cache_requests_total', { cache: 'agent', result: 'miss' })).toBeGreaterThan(0);
  });

  it('exports queue depth per queue and state', async () => {
    const samples = await scrape(t);
    for (const queue of ['ingest', 'embed-base']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(valueOf(samples, 'bastion_queue_jobs', { queue, state }), `${queue} ${state}`).toBe(0);
    }
  });

  it('exports knowledge searches running and waiting', async () => {
    const samples = await scrape(t);
    expect(valueOf(samples, 'bastion_knowledge_searches', { state: 'running' })).toBe(0);
    expect(valueOf(samples, 'bastion_knowledge_searches', { state: 'waiting' })).toBe(0);
  });

  it('exports pool occupancy where the driver has a pool (PostgreSQL), and nothing on PGlite', async () => {
    const samples = await scrape(t);
    const pool = samplesOf(samples, 'bastion_db_pool_connections');
    if (t.database.kind === 'postgres') {
      expect(pool.map((s) => s.labels.state).sort()).toEqual(['idle', 'in_use', 'waiting']);
      expect(valueOf(samples, 'bastion_db_pool_connections', { state: 'idle' })! + valueOf(samples, 'bastion_db_pool_connections', { state: 'in_use' })!).toBeGreaterThan(0);
    } else {
      expect(pool).toEqual([]);
    }
  });
});

describe('rate-limit refusals', () => {
  it('counts each 429 rate_limited by policy', async () => {
    // Scale 0.01: the auth policy allows one request a minute.
    const t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN, RATE_LIMIT_SCALE: '0.01' } });
    try {
      const login = () => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody@example.org', password: 'not the password' } });
      expect((await login()).statusCode).toBe(401);
      expect(valueOf(await scrape(t), 'bastion_rate_limited_total', { policy: 'auth' })).toBeUndefined();
      const refused = await login();
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('rate_limited');
      await login();
      expect(valueOf(await scrape(t), 'bastion_rate_limited_total', { policy: 'auth' })).toBe(2);
    } finally {
      await t.close();
    }
  });
});

describe('queue depth collection', () => {
  it('leaves a queue out when it does not answer in time, without holding the scrape', async () => {
    const metrics = new Metrics({ defaults: false });
    const counts = { waiting: 3, active: 1, delayed: 0, failed: 2 };
    metrics.observeQueue({ counts: (name) => (name === 'slow' ? new Promise(() => {}) : Promise.resolve(counts)) }, ['fast', 'slow'], 50);
    const started = Date.now();
    const samples = parseExposition((await metrics.text()).body);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(samplesOf(samples, 'bastion_queue_jobs', { queue: 'slow' })).toEqual([]);
    expect(valueOf(samples, 'bastion_queue_jobs', { queue: 'fast', state: 'waiting' })).toBe(3);
    expect(valueOf(samples, 'bastion_queue_jobs', { queue: 'fast', state: 'failed' })).toBe(2);
  });
});

describe('knowledge search collection', () => {
  it('reads the searches running and waiting at scrape time', async () => {
    const metrics = new Metrics({ defaults: false });
    let load = { active: 3, queued: 7 };
    metrics.observeSearches(() => load);
    let samples = parseExposition((await metrics.text()).body);
    expect([valueOf(samples, 'bastion_knowledge_searches', { state: 'running' }), valueOf(samples, 'bastion_knowledge_searches', { state: 'waiting' })]).toEqual([3, 7]);
    load = { active: 1, queued: 0 };
    samples = parseExposition((await metrics.text()).body);
    expect([valueOf(samples, 'bastion_knowledge_searches', { state: 'running' }), valueOf(samples, 'bastion_knowledge_searches', { state: 'waiting' })]).toEqual([1, 0]);
  });
});
