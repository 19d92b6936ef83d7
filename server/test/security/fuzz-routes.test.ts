/**
 * Schema fuzzing of every operation in the OpenAPI document (fast-check): generated path
 * ids, queries, bodies and headers, valid-looking and hostile (huge, deeply nested,
 * unicode, `__proto__`, type confusion, boundary numbers), sent by a user with every
 * scope and by nobody. Every answer must be below 500, carry the security headers, and
 * when refused: the error envelope (OpenAI's shape under /v1) with a known code, no stack
 * trace, none of the request's marker text reflected, and no row of the database changed.
 *
 * Time per operation: FUZZ_MS_PER_ROUTE (400 ms; `npm run test:security` runs longer).
 * A failure prints fast-check's seed and path: FUZZ_SEED=<seed> replays it.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { ManualClock } from '../../src/platform/clock.js';
import { apiUser, type ApiClient } from '../api-client.js';
import { buildTestApp, TEST_RUN, waitFor, type TestApp } from '../harness.js';
import { multipart } from '../uploads.js';

/** Text planted in every generated string: an error that quotes it reflects input. */
const MARKER = 'Zq7Marker';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];
interface Operation {
  method: Method;
  path: string;
  parameters?: { name: string; in: 'path' | 'query' | 'header'; schema?: { type?: string; enum?: unknown[] } }[];
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}

let t: TestApp;
let client: ApiClient;
/** Ids that exist, so generated requests reach past the lookups. */
let ids: string[] = [];
let operations: Operation[] = [];

async function seed(): Promise<void> {
  client = await apiUser(t); // a member: administrators must enrol two-factor authentication first
  const post = async (url: string, body: unknown) => {
    const response = await client.post(url, body);
    expect(response.statusCode, `${url}: ${response.body}`).toBeLessThan(300);
    return response.json().id as string;
  };
  const baseId = await post('/knowledge-bases', { name: 'Fuzz base' });
  const agentId = await post('/agents', { name: 'Fuzz agent', knowledgeBaseIds: [baseId] });
  const conversationId = await post('/conversations', { agentId });
  const upload = multipart('fuzz.md', '# Fuzz\n\nA document to find.', 'text/markdown');
  const document = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: { ...client.headers(), ...upload.headers }, payload: upload.payload });
  const documentId = document.json().id as string;
  // Ingestion runs in the background: it must be done before refusals are checked for changes.
  const ingested = await waitFor(async () => (await client.get(`/knowledge-bases/${baseId}/documents/${documentId}`)).json().status === 'ready', 20_000, 50);
  expect(ingested).toBe(true);
  ids = [baseId, agentId, conversationId, documentId, client.userId];
}

/**
 * What refusals record by design: security monitoring (failed sign-ins, alerts on them),
 * CSP reports, and mail the refusal sends (the "someone tried your account" notice).
 */
const RECORDS_REFUSALS = ['security_events', 'security_alerts', 'sign_ins', 'csp_reports', 'mail_outbox'];

/**
 * Bookkeeping of the credential itself: using an API key records when and from where, at
 * most once a minute (USE_RECORD_INTERVAL_MS), whatever the request then gets. These
 * columns are left out of those tables' digests; every other column still counts.
 */
type TableDigest = { n: string; v: string | null };
const USE_RECORD_FREE: Record<string, () => Promise<TableDigest>> = {
  api_keys: async () => (await sql<TableDigest>`select count(*) as n, md5(string_agg((to_jsonb(r) - 'last_used_at' - 'last_used_ip')::text, ',' order by r.id)) as v from api_keys r`.execute(t.database.db)).rows[0]!,
};

/** Rows and row versions of every other table: a refused request must leave it as it was. */
async function digest(): Promise<string> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and not (table_name = any(${RECORDS_REFUSALS})) order by 1`.execute(
    t.database.db,
  );
  const parts = await Promise.all(
    tables.rows.map(async ({ name }) => {
      const digestOf = USE_RECORD_FREE[name] ?? (async () => (await sql<TableDigest>`select count(*) as n, max(xmin::text) as v from ${sql.table(name)}`.execute(t.database.db)).rows[0]!);
      const { n, v } = await digestOf();
      return `${name}:${n}:${v ?? ''}`;
    }),
  );
  return parts.join(' ');
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }).map((s) => `${s}${MARKER}`),
  fc.constantFrom(`${MARKER}' OR '1'='1`, `${MARKER}"; drop table users; --`, `../../${MARKER}/etc/passwd`, `${MARKER}\u0000\u202e`, `<script>${MARKER}</script>`, `${MARKER}%00%2e%2e`, `\uD800${MARKER}`),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => `${MARKER}${s}`),
  fc.constant(`${MARKER}${'x'.repeat(70_000)}`),
);
const hostileNumber = fc.constantFrom(-1, 0, 1, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, 0.5, Number.MAX_SAFE_INTEGER);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.array(hostileString, { maxLength: 3 }), fc.dictionary(hostileString, hostileString, { maxKeys: 3 }));
const pathValue = (existing: string[]) =>
  fc.oneof(
    fc.constantFrom(...existing),
    fc.constant(randomUUID()),
    hostileString.map((s) => encodeURIComponent(s.slice(0, 300).replace(/[\uD800-\uDFFF]/g, '\uFFFD'))),
    fc.constantFrom('0', '-1', 'null', '%2e%2e', 'undefined'),
  );

/** A JSON body as text (so `__proto__` keys are sent literally), from the schema's property names and hostile values. */
function bodyFor(operation: Operation): fc.Arbitrary<string | undefined> {
  const properties = Object.keys(operation.requestBody?.content?.['application/json']?.schema?.properties ?? {});
  const keys = fc.oneof(...(properties.length > 0 ? [fc.constantFrom(...properties)] : []), hostileString, fc.constantFrom('__proto__', 'constructor', 'prototype'));
  return fc.oneof(
    fc.constant(undefined),
    fc.dictionary(keys, hostileValue, { maxKeys: 6 }).map((body) => JSON.stringify(body)),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc.constantFrom(
      `{"__proto__":{"isAdmin":true,"role":"owner"},"name":"${MARKER}"}`,
      `{"constructor":{"prototype":{"polluted":"${MARKER}"}}}`,
      `${'['.repeat(200)}${']'.repeat(200)}`,
      `{"name": "${MARKER}", "name": 5}`,
      `{"a":1`,
      `"${MARKER}"`,
      '',
    ),
  );
}

function requestFor(operation: Operation) {
  const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
  const queryParams = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  return fc.record({
    path: fc.tuple(...pathParams.map(() => pathValue(ids))),
    query: fc.dictionary(queryParams.length > 0 ? fc.oneof(fc.constantFrom(...queryParams), hostileString) : hostileString, fc.oneof(hostileString, hostileNumber.map(String)), { maxKeys: 3 }),
    body: bodyFor(operation),
    contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
    auth: fc.constantFrom('key', 'key', 'key', 'none'),
    header: fc.option(fc.oneof(fc.constant({ 'x-workspace-id': `${MARKER}` }), fc.constant({ 'x-request-id': `${MARKER}\u00e9` }), fc.constant({ 'x-extra': 'x'.repeat(20_000) }), fc.constant({ accept: 'text/event-stream' })), {
      nil: undefined,
    }),
  });
}

type Generated = ReturnType<typeof requestFor> extends fc.Arbitrary<infer T> ? T : never;

function check(operation: Operation, response: LightMyRequestResponse, label: string): void {
  expect(response.statusCode, `${label} → ${response.statusCode} ${response.body.slice(0, 300)}`).toBeLessThan(500);
  expect(response.headers['x-content-type-options'], label).toBe('nosniff');
  expect(response.headers['content-security-policy'], label).toBeDefined();
  if (response.statusCode < 400) return;
  expect(String(response.headers['content-type']), label).toMatch(/^application\/json/);
  const body = response.json() as { error?: { code?: unknown; message?: unknown; type?: unknown } };
  if (operation.path.startsWith('/v1/')) expect(body.error, label).toMatchObject({ message: expect.any(String), type: expect.any(String) });
  else {
    expect(Object.keys(body), label).toEqual(['error']);
    expect(ERROR_CODES, `${label}: code ${String(body.error?.code)}`).toContain(body.error?.code);
  }
  expect(response.body, `${label}: a stack trace`).not.toMatch(/\n\s+at [^\n]+\(|node_modules|\.ts:\d+/);
  // A strict object names an unknown key when it is a short plain name (errors-plugin.ts): actionable, harmless.
  const shown = response.body.replace(/Unrecognized keys?: (\\"[A-Za-z0-9_.-]{1,64}\\"(, )?)+/g, '');
  expect(shown, `${label}: input reflected in ${response.body.slice(0, 300)}`).not.toContain(MARKER);
}

beforeAll(async () => {
  // Time stands still for the app: what the fuzzer deletes stays in its restore window, so
  // the background purge does not remove rows while a refused request is being checked.
  t = await buildTestApp({ env: { RATE_LIMIT_SCALE: '100000' }, clock: new ManualClock(new Date()) });
  await seed();
  const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Partial<Record<Method, Omit<Operation, 'method' | 'path'>>>> };
  operations = Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ method, path, ...item[method]! })));
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('fuzzing every operation of the OpenAPI document', () => {
  it(`answers every generated request below 500, refusals in the envelope, nothing reflected or changed (${TEST_RUN.fuzzMsPerRoute} ms per operation)`, async () => {
    expect(operations.length).toBeGreaterThan(60);
    const started = Date.now();
    let requests = 0;
    for (const operation of operations) {
      // The key's owner may delete itself or its key on the way: start again with a new one.
      if ((await client.get('/me')).statusCode !== 200) await seed();
      // interruptAfterTimeLimit stops waiting for the run in progress when time is up, but its
      // request goes on: it must finish, checks included, before the next operation's digest.
      let running: Promise<void> | undefined;
      const fuzzOnce = async (generated: Generated): Promise<void> => {
        let index = 0;
        const url = operation.path.replace(/\{[^}]+\}/g, () => String(generated.path[index++]));
        const query = new URLSearchParams(generated.query as Record<string, string>).toString();
        const headers: Record<string, string> = { ...(generated.auth === 'key' ? client.headers() : {}), ...generated.header };
        if (generated.body !== undefined) headers['content-type'] = generated.contentType;
        const before = operation.method === 'get' ? '' : await digest();
        let response: LightMyRequestResponse;
        try {
          response = await t.app.inject({ method: operation.method.toUpperCase() as Uppercase<Method>, url: query ? `${url}?${query}` : url, headers, ...(generated.body !== undefined ? { payload: generated.body } : {}) });
        } catch (error) {
          // light-my-request itself refuses some header values Node would refuse on the wire.
          if (/Invalid character|header/i.test(String((error as Error).message))) return;
          throw error;
        }
        requests++;
        const label = `${operation.method.toUpperCase()} ${url}${query ? `?${query.slice(0, 200)}` : ''}`;
        check(operation, response, label);
        if (response.statusCode >= 400 && operation.method !== 'get') {
          const after = await digest();
          const changed = after.split(' ').filter((part) => !before.split(' ').includes(part));
          expect(changed, `${label}: a refused request changed the database`).toEqual([]);
        }
      };
      await fc.assert(
        fc.asyncProperty(requestFor(operation), (generated) => (running = fuzzOnce(generated))),
        { numRuns: 10_000, interruptAfterTimeLimit: TEST_RUN.fuzzMsPerRoute, ...(TEST_RUN.fuzzSeed !== undefined ? { seed: TEST_RUN.fuzzSeed } : {}) },
      );
      await running;
    }
    console.log(`fuzzed ${operations.length} operations with ${requests} requests in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }, 600_000);
});
