/** The OpenAPI document declares the error envelope for 4xx/5xx on every operation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../test/harness.js';
import { ERROR_CODES } from '../errors.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

type Operation = { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };

describe('OpenAPI error envelope', () => {
  it('references one ErrorEnvelope component from 4XX and 5XX of every operation', async () => {
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json() as { components: { schemas: Record<string, { properties: Record<string, unknown> }> }; paths: Record<string, Record<string, Operation>> };
    const envelope = doc.components.schemas.ErrorEnvelope;
    expect(envelope?.properties.error).toMatchObject({ required: ['code', 'message', 'requestId'], properties: { code: { enum: ERROR_CODES } } });
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.values(item).map((operation) => ({ path, operation })));
    expect(operations.length).toBeGreaterThan(50);
    for (const { path, operation } of operations) {
      // The OpenAI-compatible API answers errors in OpenAI's shape (http/openai-errors.ts).
      const expected = path.startsWith('/v1/') ? '#/components/schemas/OpenAiError' : '#/components/schemas/ErrorEnvelope';
      for (const range of ['4XX', '5XX']) {
        expect(operation.responses[range]?.content?.['application/json']?.schema.$ref, `${path} ${range}`).toBe(expected);
      }
    }
    expect(operations.filter(({ path }) => path.startsWith('/v1/')).length).toBeGreaterThanOrEqual(3);
    // A status a route declares itself stays.
    expect(doc.paths['/api/v1/readyz']?.get?.responses['503']?.content?.['application/json']?.schema.$ref).toBeUndefined();
  });

  it('documents the body error answers really have', async () => {
    const response = await t.app.inject({ url: '/api/v1/no-such-route' });
    expect(response.statusCode).toBe(404);
    const body = response.json() as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(ERROR_CODES).toContain(body.error.code);
    expect(body.error).toEqual({ code: 'not_found', message: expect.any(String), requestId: expect.any(String) });
  });
});
