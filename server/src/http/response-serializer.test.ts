/** Compiled response serialisation: only declared properties leave, errors keep their envelope. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildTestApp, type TestApp } from '../../test/harness.js';
import { AppError } from '../errors.js';
import { responseJsonSchema } from './response-serializer.js';

const Item = z.object({ id: z.uuid(), name: z.string(), note: z.string().nullable(), kind: z.enum(['a', 'b']), createdAt: z.iso.datetime() });
const item = { id: '0b6f2d0c-4a1e-4f7e-9a53-1f0c2b3d4e5f', name: 'one', note: null, kind: 'a' as const, createdAt: '2026-12-03T07:00:00.000Z' };

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({
    routes: (app) => {
      // A handler that returns more than the view declares: a secret must not leave.
      app.get('/api/v1/probe/items', { schema: { response: { 200: z.object({ items: z.array(Item) }) } } }, async () => ({
        items: [{ ...item, passwordHash: 'argon2id$secret', workspace: { key: 'sealed' } }],
      }));
      // A route that declares its own 503 body (as /readyz does), failing with an error.
      app.get('/api/v1/probe/declared-503', { schema: { response: { 200: z.object({ ok: z.boolean() }), 503: z.object({ status: z.literal('down') }) } } }, async () => {
        throw new AppError('service_unavailable', 'The database is not answering.');
      });
    },
  });
});
afterAll(async () => t?.close());

describe('compiled response serialisation', () => {
  it('compiles the usual view shapes (nullable, enum, ISO dates as strings) to a JSON schema', () => {
    expect(responseJsonSchema(z.object({ items: z.array(Item) }))).not.toBeNull();
    // A nullable id (a string with a format) needs no runtime choice between shapes.
    expect(responseJsonSchema(z.object({ connectionId: z.uuid().nullable() }))).toMatchObject({ properties: { connectionId: { type: ['string', 'null'] } } });
  });

  it('sends only the declared properties', async () => {
    const response = await t.app.inject({ url: '/api/v1/probe/items' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [item] });
    expect(response.body).not.toContain('secret');
    expect(response.body).not.toContain('sealed');
  });

  it('answers an error on a route that declares a body for its status with the error envelope, not a 500', async () => {
    const response = await t.app.inject({ url: '/api/v1/probe/declared-503' });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('service_unavailable');
  });
});
