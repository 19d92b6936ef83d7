/** Hostile input against the real app: every rejection is a 4xx in the one envelope. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildTestApp, type TestApp } from '../../test/harness.js';
import type { App } from './app-type.js';

const Item = z.strictObject({
  name: z.string().min(1).max(100).describe('Display name'),
  tags: z.array(z.string().max(20)).max(10).optional(),
  data: z.unknown().optional(),
});

/** Probe routes standing in for any resource route: a body, an id, a failure. */
function probeRoutes(app: App): void {
  app.post('/api/v1/probe/items', { schema: { body: Item } }, async (request, reply) => reply.status(201).send({ name: request.body.name }));
  app.get('/api/v1/probe/items/:id', { schema: { params: z.object({ id: z.uuid() }) } }, async (request) => ({
    id: request.params.id,
  }));
  app.get('/api/v1/probe/crash', async () => {
    throw new Error('syntax error at or near "SELECT password_hash FROM users" at /srv/bastion/src/x.ts:12');
  });
}

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { BODY_LIMIT_BYTES: '2048', JSON_MAX_DEPTH: '8' }, routes: probeRoutes });
});
afterAll(async () => {
  await t.close();
});

function post(payload: string, contentType: string | undefined = 'application/json') {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/probe/items',
    payload,
    headers: contentType ? { 'content-type': contentType } : {},
  });
}

function expectEnvelope(response: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  const body = response.json() as { error: { code: string; message: string; requestId: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
  expect(body.error.requestId).toBe(response.headers['x-request-id']);
  return body.error;
}

describe('request bodies', () => {
  it('accepts a valid body', async () => {
    const response = await post(JSON.stringify({ name: 'ok' }));
    expect(response.statusCode).toBe(201);
  });

  it.each([
    ['truncated', '{"name": "x"'],
    ['garbage', 'not json at all'],
    ['trailing comma', '{"name": "x",}'],
    ['empty', ''],
  ])('answers invalid_json for %s JSON', async (_label, payload) => {
    expectEnvelope(await post(payload), 400, 'invalid_json');
  });

  it('refuses prototype poisoning', async () => {
    expectEnvelope(await post('{"name":"x","__proto__":{"isAdmin":true}}'), 400, 'invalid_json');
    expectEnvelope(await post('{"name":"x","constructor":{"prototype":{"isAdmin":true}}}'), 400, 'invalid_json');
  });

  it.each([
    ['text/plain', '{"name":"x"}'],
    ['application/x-www-form-urlencoded', 'name=x'],
    ['multipart/form-data; boundary=x', '--x\r\n\r\n--x--'],
    ['application/xml', '<name>x</name>'],
  ])('answers unsupported_media_type for %s', async (type, payload) => {
    expectEnvelope(await post(payload, type), 415, 'unsupported_media_type');
  });

  it('answers validation_failed for unknown fields, naming the field', async () => {
    const error = expectEnvelope(await post(JSON.stringify({ name: 'x', isAdmin: true })), 400, 'validation_failed');
    expect(JSON.stringify(error)).toContain('isAdmin');
  });

  it('answers validation_failed for wrong types and missing fields, with details', async () => {
    const error = expectEnvelope(await post(JSON.stringify({ name: 42, tags: 'x' })), 400, 'validation_failed') as {
      details?: { path: string }[];
    };
    expect(error.details?.map((d) => d.path)).toEqual(expect.arrayContaining(['body.name', 'body.tags']));
    expectEnvelope(await post('{}'), 400, 'validation_failed');
    expectEnvelope(await post('[]'), 400, 'validation_failed');
    expectEnvelope(await post('null'), 400, 'validation_failed');
  });

  it('answers payload_too_large for bodies over BODY_LIMIT_BYTES [ASVS 15.2.2]', async () => {
    expectEnvelope(await post(JSON.stringify({ name: 'x'.repeat(5_000) })), 413, 'payload_too_large');
  });

  it('answers invalid_json for bodies nested deeper than JSON_MAX_DEPTH, without parsing them [ASVS 15.2.2]', async () => {
    const deep = `{"name":"x","data":${'['.repeat(20)}${']'.repeat(20)}}`;
    const error = expectEnvelope(await post(deep), 400, 'invalid_json');
    expect(error.message).toMatch(/nested deeper than 8/);
    const fine = `{"name":"x","data":${'['.repeat(5)}${']'.repeat(5)}}`;
    expect((await post(fine)).statusCode).toBe(201);
    // Brackets inside strings do not count as nesting.
    expect((await post(JSON.stringify({ name: '[[[[[[[[[[[[[[[[[[[[' }))).statusCode).toBe(201);
  });
});

describe('ids and routes', () => {
  it('answers not_found for a malformed id', async () => {
    for (const id of ['123', 'not-a-uuid', "1' or '1'='1", '..%2F..%2Fetc%2Fpasswd']) {
      expectEnvelope(await t.app.inject({ url: `/api/v1/probe/items/${id}` }), 404, 'not_found');
    }
    const ok = await t.app.inject({ url: '/api/v1/probe/items/5b0e3a0e-8f2c-4a57-9d42-3c8f0d4e9a11' });
    expect(ok.statusCode).toBe(200);
  });

  it('answers not_found for unknown routes and methods', async () => {
    expectEnvelope(await t.app.inject({ url: '/api/v1/nothing-here' }), 404, 'not_found');
    expectEnvelope(await t.app.inject({ method: 'DELETE', url: '/healthz' }), 404, 'not_found');
    expectEnvelope(await t.app.inject({ url: '/api/v2/healthz' }), 404, 'unknown_api_version');
    expectEnvelope(await t.app.inject({ url: '/api/latest/me' }), 404, 'unknown_api_version');
  });
});

describe('unexpected errors', () => {
  it('answers a generic internal_error without stack, SQL or paths [ASVS 16.5.1]', async () => {
    const response = await t.app.inject({ url: '/api/v1/probe/crash' });
    const error = expectEnvelope(response, 500, 'internal_error');
    expect(response.body).not.toMatch(/SELECT|password_hash|\/srv|\.ts|at .*\(/);
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'requestId']);
  });
});
