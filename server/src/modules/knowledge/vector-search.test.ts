/**
 * Vector search fused with full-text search by reciprocal rank fusion. PGlite has pgvector;
 * on PostgreSQL the tests run when the server has the extension (`.ci/run` builds it from
 * the vendored source), and otherwise check that asking for vector search is refused with
 * a clear reason and that full-text search stands alone.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { TEST_DATABASE_URL } from '../../../test/harness.js';
import { PROVIDER_KEY, useChatApp } from '../../../test/chat-fixture.js';
import { FAKE_EMBEDDING_DIMS } from '../../../test/fake-llm.js';
import { multipart } from '../../../test/uploads.js';
import { reciprocalRankFusion } from './embeddings.js';

const chat = useChatApp();
const pgvector = () => sql<{ t: string | null }>`select to_regclass('chunk_embeddings')::text as t`.execute(chat.t.database.db).then((r) => r.rows[0]?.t != null);

const DOCS: Record<string, string> = {
  'fleet.md': '# Fleet\n\nEvery car in the company pool is serviced each spring. Keys are collected at the front desk.',
  'health.md': '# Health\n\nThe company doctor visits the office on Tuesdays. Appointments are booked in the portal.',
  'kitchen.md': '# Kitchen\n\nThe espresso machine is descaled every Friday by the office manager.',
};

async function connection(client: ApiClient, kind: 'openai' | 'anthropic' = 'openai'): Promise<string> {
  const response = await client.post('/provider-connections', { name: `embeddings ${kind}`, kind, baseUrl: kind === 'openai' ? `${chat.fake.url}/v1` : chat.fake.url, apiKey: PROVIDER_KEY });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function fill(client: ApiClient, baseId: string): Promise<void> {
  for (const [name, text] of Object.entries(DOCS)) {
    const { payload, headers } = multipart(name, text, 'text/markdown');
    const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
    expect(response.statusCode, response.body).toBe(202);
  }
  await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents.map((d: { status: string }) => d.status), { timeout: 15_000, interval: 100 }).toEqual(['ready', 'ready', 'ready']);
}

const search = async (client: ApiClient, baseId: string, query: string) => {
  const response = await client.post(`/knowledge-bases/${baseId}/search`, { query, topK: 3 });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().results as { filename: string; chunkId: string; score: number }[];
};

describe('reciprocal rank fusion', () => {
  it('rewards items ranked well in several lists', () => {
    const fused = reciprocalRankFusion([
      ['a', 'b', 'c'],
      ['c', 'b', 'd'],
    ]);
    const order = [...fused].sort((x, y) => y[1] - x[1]).map(([id]) => id);
    expect(order.slice(0, 2).sort()).toEqual(['b', 'c']);
    expect(fused.get('b')).toBeCloseTo(2 / 62);
    expect(order.at(-1)).toBe('d');
  });
});

/** Whether the PostgreSQL server under test offers the `vector` extension (decided before the tests are registered). */
async function serverHasPgvector(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query("select 1 from pg_available_extensions where name = 'vector'")).rowCount === 1;
  } finally {
    await client.end();
  }
}
// PGlite always has pgvector.
const withPgvector = !TEST_DATABASE_URL || (await serverHasPgvector(TEST_DATABASE_URL));

describe('vector search', () => {
  if (withPgvector) registerVectorTests();
  else {
    it('keeps full-text search working where the database has no pgvector', async () => {
      expect(await pgvector()).toBe(false);
      const client = await apiUser(chat.t);
      const baseId = (await client.post('/knowledge-bases', { name: 'Plain' })).json().id;
      await fill(client, baseId);
      expect((await search(client, baseId, 'espresso'))[0]?.filename).toBe('kitchen.md');
    });
  }

  it('refuses embedding settings it cannot honour, with the reason', async () => {
    const client = await apiUser(chat.t);
    const other = await apiUser(chat.t);
    const anthropic = await connection(client, 'anthropic');
    const foreign = await connection(other);
    const cases: [unknown, string][] = [
      [{ connectionId: anthropic, model: 'x' }, (await pgvector()) ? 'no_embeddings' : 'vector_search_unavailable'],
      [{ connectionId: foreign, model: 'x' }, (await pgvector()) ? 'not_found' : 'vector_search_unavailable'],
    ];
    for (const [embedding, reason] of cases) {
      const response = await client.post('/knowledge-bases', { name: 'Bad', embedding });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
      expect(JSON.stringify(response.json().error.details)).toContain(reason);
    }
    for (const embedding of [{ connectionId: 'not-a-uuid', model: 'x' }, { connectionId: anthropic }, { connectionId: anthropic, model: '' }, { connectionId: anthropic, model: 'x', extra: 1 }, 'fake-embed']) {
      const response = await client.post('/knowledge-bases', { name: 'Bad', embedding });
      expect(response.statusCode, response.body).toBe(400);
    }
    expect((await client.get('/knowledge-bases')).json().knowledgeBases).toEqual([]);
  });
});

/** Registered where the database has pgvector: PGlite, and PostgreSQL with the extension installed. */
function registerVectorTests(): void {
  it('finds by meaning what full-text search cannot, fused with full-text results', async () => {
    const client = await apiUser(chat.t);
    const connectionId = await connection(client);
    const created = await client.post('/knowledge-bases', { name: 'Vectors', embedding: { connectionId, model: 'fake-embed' } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().embedding).toEqual({ connectionId, model: 'fake-embed' });
    const baseId = created.json().id;
    await fill(client, baseId);

    const embedCalls = chat.fake.requests.filter((r) => r.path === '/v1/embeddings');
    expect(embedCalls.length).toBeGreaterThan(0);
    expect(embedCalls[0]!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    const stored = await chat.t.database.db
      .selectFrom('chunk_embeddings')
      .select(['model', sql<number>`vector_dims(embedding)`.as('dims')])
      .where('knowledge_base_id', '=', baseId)
      .execute();
    expect(stored.length).toBeGreaterThanOrEqual(3);
    expect(stored.every((row) => row.model === 'fake-embed' && Number(row.dims) === FAKE_EMBEDDING_DIMS)).toBe(true);

    // "automobile" and "physician" appear in no document: only their meaning matches.
    expect((await search(client, baseId, 'automobile'))[0]?.filename).toBe('fleet.md');
    expect((await search(client, baseId, 'physician'))[0]?.filename).toBe('health.md');
    // A word both sides find stays first.
    expect((await search(client, baseId, 'espresso machine'))[0]?.filename).toBe('kitchen.md');

    // The provider failing at query time: full-text results, not an error.
    chat.fake.enqueue({ kind: 'error', status: 500 }, { kind: 'error', status: 500 }, { kind: 'error', status: 500 });
    const degraded = await search(client, baseId, 'descaled Friday');
    expect(degraded[0]?.filename).toBe('kitchen.md');

    // Deleting a document removes its vectors.
    const documents = (await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents as { id: string; filename: string }[];
    const fleet = documents.find((d) => d.filename === 'fleet.md')!;
    expect((await client.delete(`/knowledge-bases/${baseId}/documents/${fleet.id}`)).statusCode).toBe(200);
    const left = await sql<{ n: string }>`select count(*) as n from chunk_embeddings e join chunks c on c.id = e.chunk_id where c.document_id = ${fleet.id}`.execute(chat.t.database.db);
    expect(Number(left.rows[0]!.n)).toBe(0);
    expect((await search(client, baseId, 'automobile')).some((hit) => hit.filename === 'fleet.md')).toBe(false);
  });

  it('embeds existing chunks again when the model changes, and drops the old vectors', async () => {
    const client = await apiUser(chat.t);
    const connectionId = await connection(client);
    const baseId = (await client.post('/knowledge-bases', { name: 'Later vectors' })).json().id;
    await fill(client, baseId);
    expect((await search(client, baseId, 'automobile')).length).toBe(0); // full text only

    const patched = await client.patch(`/knowledge-bases/${baseId}`, { embedding: { connectionId, model: 'fake-embed-2' } });
    expect(patched.statusCode, patched.body).toBe(200);
    await expect.poll(async () => (await search(client, baseId, 'automobile'))[0]?.filename, { timeout: 15_000, interval: 100 }).toBe('fleet.md');
    const models = await chat.t.database.db.selectFrom('chunk_embeddings').select('model').distinct().where('knowledge_base_id', '=', baseId).execute();
    expect(models).toEqual([{ model: 'fake-embed-2' }]);

    expect((await client.patch(`/knowledge-bases/${baseId}`, { embedding: null })).statusCode).toBe(200);
    expect(await chat.t.database.db.selectFrom('chunk_embeddings').select('chunk_id').where('knowledge_base_id', '=', baseId).execute()).toEqual([]);
    expect((await search(client, baseId, 'automobile')).length).toBe(0);
  });
}
