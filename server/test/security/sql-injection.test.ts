/**
 * SQL injection, by behaviour (ASVS 5.0 V1.2.4, parameterised queries): classic payloads sent
 * through the API into every query that takes free text — knowledge search (full-text
 * query planning), the administrators' account search (LIKE patterns), sign-in (email
 * lookup) — must come back as ordinary text: the same results as the words they contain,
 * no error, no delay, no row changed. A query that pastes the text into SQL fails here,
 * not only in lint.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../api-client.js';
import { createUser } from '../accounts.js';
import { buildTestApp, waitFor, type TestApp } from '../harness.js';
import { multipart } from '../uploads.js';

const PAYLOADS = [
  `' OR '1'='1`,
  `refund' OR 1=1 --`,
  `'; DROP TABLE chunks; --`,
  `refund') UNION SELECT id, text FROM chunks --`,
  `$$; SELECT pg_sleep(3); $$`,
  `' AND pg_sleep(3) IS NULL --`,
  `\\'; select 1; --`,
  `%' OR email LIKE '%`,
  `refund & !policy | (`,
  `'::text); --`,
];

let t: TestApp;
let member: ApiClient;
let admin: ApiClient;
let baseId: string;

async function rowCounts(): Promise<string> {
  const row = await sql<{ c: string; u: string; d: string }>`select (select count(*) from chunks) as c, (select count(*) from users) as u, (select count(*) from documents) as d`.execute(t.database.db);
  return JSON.stringify(row.rows[0]);
}

beforeAll(async () => {
  t = await buildTestApp({ env: { RATE_LIMIT_SCALE: '1000', REQUIRE_MFA: 'none' } });
  member = await apiUser(t);
  admin = await apiUser(t, { role: 'admin' });
  baseId = (await member.post('/knowledge-bases', { name: 'Policies' })).json().id;
  for (const [name, text] of [
    ['refunds.md', '# Refunds\n\nThe refund policy allows returns within 30 days of purchase.'],
    ['travel.md', '# Travel\n\nTrain tickets are booked through the travel desk.'],
  ] as const) {
    const upload = multipart(name, text, 'text/markdown');
    const response = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: { ...member.headers(), ...upload.headers }, payload: upload.payload });
    expect(response.statusCode, response.body).toBe(202);
  }
  const ready = await waitFor(async () => ((await member.get(`/knowledge-bases/${baseId}/documents`)).json().documents as { status: string }[]).every((d) => d.status === 'ready'), 20_000, 50);
  expect(ready).toBe(true);
}, 60_000);

afterAll(async () => {
  await t?.close();
});

/** The files a search returns, in order. */
async function search(query: string): Promise<{ status: number; files: string[]; ms: number }> {
  const started = Date.now();
  const response = await member.post(`/knowledge-bases/${baseId}/search`, { query, topK: 10 });
  const ms = Date.now() - started;
  return { status: response.statusCode, files: response.statusCode === 200 ? (response.json().results as { filename: string }[]).map((r) => r.filename) : [], ms };
}

describe('SQL injection payloads through the API (ASVS V1.2.4)', () => {
  it('knowledge search treats every payload as words: the results of its words, no error, no delay, nothing changed', async () => {
    const before = await rowCounts();
    for (const payload of PAYLOADS) {
      const result = await search(payload);
      expect(result.status, payload).toBe(200);
      expect(result.ms, `${payload}: took ${result.ms} ms`).toBeLessThan(2_500);
      // Only a payload naming "refund" may find the refund document, and nothing finds both.
      const expected = /refund/i.test(payload) ? ['refunds.md'] : [];
      expect(result.files, payload).toEqual(expected);
    }
    expect(await rowCounts()).toBe(before);
  });

  it('the account search matches `%`, `_` and quotes literally', async () => {
    await createUser(t.database, { email: 'o.brien@example.org', name: "Siobhan O'Brien" });
    const list = async (q: string) => {
      const response = await admin.get(`/admin/users?q=${encodeURIComponent(q)}`);
      expect(response.statusCode, `${q}: ${response.body}`).toBe(200);
      return (response.json().users as { email: string }[]).map((u) => u.email);
    };
    expect(await list("O'Brien")).toEqual(['o.brien@example.org']);
    for (const payload of ['%', '_', `' OR '1'='1`, `%' OR email LIKE '%`, '\\']) expect(await list(payload), payload).toEqual([]);
    expect((await list('')).length).toBeGreaterThan(2); // no filter: everyone, so the empty lists above are real refusals to match
  });

  it('sign-in looks the email up as a value: a payload is an unknown account, never a match', async () => {
    for (const email of [`' OR '1'='1' --@example.org`, `${member.email}' --`, `x@example.org' OR email IS NOT NULL --`]) {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: { email, password: 'a wrong password entirely' } });
      expect([400, 401], `${email}: ${response.body}`).toContain(response.statusCode);
    }
  });
});
