import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/harness.js';
import type { Store } from '../../platform/store/store.js';
import { ReadinessRefusal } from './routes.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('health probes', () => {
  it('answers /healthz and /readyz at the root and under /api/v1', async () => {
    for (const prefix of ['', '/api/v1']) {
      expect((await t.app.inject({ url: `${prefix}/healthz` })).json()).toEqual({ status: 'ok' });
      const ready = await t.app.inject({ url: `${prefix}/readyz` });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', store: 'ok', crypto: 'ok', storage: 'unchecked' } });
    }
  });

  it('names the failed dependency with 503', async () => {
    const broken: Store = Object.create(t.store, {
      ping: { value: () => Promise.reject(new Error('down')) },
    }) as Store;
    const hanging: Store = Object.create(t.store, { ping: { value: () => new Promise(() => {}) } }) as Store;
    for (const store of [broken, hanging]) {
      const other = await buildTestApp({ store, database: t.database });
      const response = await other.app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(503);
      const body = response.json();
      expect(body.checks).toEqual({ database: 'ok', store: 'failed', crypto: 'ok', storage: 'unchecked' });
      expect(body.error.code).toBe('service_unavailable');
      expect(body.error.message).toContain('store');
      expect(response.headers['retry-after']).toBe('5');
      await other.app.close();
    }
  });
});

describe('OpenAPI', () => {
  it('publishes an OpenAPI 3 document generated from the route schemas', async () => {
    const response = await t.app.inject({ url: '/api/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Bastion API');
    const readyz = doc.paths['/api/v1/readyz'].get;
    expect(Object.keys(readyz.responses)).toEqual(expect.arrayContaining(['200', '503']));
    expect(readyz.responses['200'].content['application/json'].schema.properties.checks).toBeDefined();
    expect(doc.paths['/api/v1/openapi.json']).toBeUndefined();
  });

  it('documents the plain error envelope as a /readyz 503 (what shedding and the drain send)', () => {
    expect(ReadinessRefusal.safeParse({ error: { code: 'service_unavailable', message: 'The server is overloaded; retry shortly.', requestId: 'req-1' } }).success).toBe(true);
    expect(ReadinessRefusal.safeParse({ status: 'ready' }).success).toBe(false);
  });
});
