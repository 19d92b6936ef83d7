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
import { ChunkEmbeddings, reciprocalRankFusion, toVectorText } from './embeddings.js';

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

    chat.fake.enqueue({ kind: 'error', status: 500 }); // the backfill's first call is retried: it finishes later
    const patched = await client.patch(`/knowledge-bases/${baseId}`, { embedding: { connectionId, model: 'fake-embed-2' } });
    expect(patched.statusCode, patched.body).toBe(200);
    // A search while the chunks have no vectors yet is cached; the backfill must make it stale.
    await search(client, baseId, 'automobile');
    await expect.poll(async () => (await search(client, baseId, 'automobile'))[0]?.filename, { timeout: 15_000, interval: 100 }).toBe('fleet.md');
    const models = await chat.t.database.db.selectFrom('chunk_embeddings').select('model').distinct().where('knowledge_base_id', '=', baseId).execute();
    expect(models).toEqual([{ model: 'fake-embed-2' }]);

    expect((await client.patch(`/knowledge-bases/${baseId}`, { embedding: null })).statusCode).toBe(200);
    expect(await chat.t.database.db.selectFrom('chunk_embeddings').select('chunk_id').where('knowledge_base_id', '=', baseId).execute()).toEqual([]);
    expect((await search(client, baseId, 'automobile')).length).toBe(0);
  });

  it('searches 384-dimension vectors through the HNSW index, inside the bases asked for only', async () => {
    const db = chat.t.database.db;
    const rng = mulberry32(42);
    const random = () => Array.from({ length: 384 }, () => rng() - 0.5);
    const client = await apiUser(chat.t);
    const mine = (await client.post('/knowledge-bases', { name: 'HNSW mine' })).json().id;
    const theirs = await apiUser(chat.t);
    const other = (await theirs.post('/knowledge-bases', { name: 'HNSW theirs' })).json().id;
    await fill(client, mine);
    await fill(theirs, other);
    const chunks = await db.selectFrom('chunks').select(['id', 'knowledge_base_id', 'workspace_id']).where('knowledge_base_id', 'in', [mine, other]).execute();
    // Many more vectors in the other workspace, so the filter keeps a small share of the index.
    const rows = chunks.map((c) => ({ chunkId: c.id, knowledgeBaseId: c.knowledge_base_id, workspaceId: c.workspace_id, model: 'm-384', vector: random() }));
    const embeddings = new ChunkEmbeddings(db, null as never);
    await embeddings.store(db, rows);
    const query = random();
    const workspace = chunks.find((c) => c.knowledge_base_id === mine)!.workspace_id;
    const hits = await embeddings.nearest(workspace, [mine], 'm-384', query, 10);
    const cosine = (a: number[], b: number[]) => 1 - a.reduce((sum, x, i) => sum + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const expected = rows
      .filter((r) => r.knowledgeBaseId === mine)
      .map((r) => ({ chunkId: r.chunkId, distance: cosine(r.vector, query) }))
      .sort((a, b) => a.distance - b.distance)
      .slice(0, 10);
    expect(hits.map((h) => h.chunkId)).toEqual(expected.map((e) => e.chunkId));

    // The query is one the planner can answer from the index (forced here: the table is small).
    const plan = await db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      await sql`set local enable_bitmapscan = off`.execute(trx);
      return (
        await sql<{ 'QUERY PLAN': string }>`explain select chunk_id from chunk_embeddings where vector_dims(embedding) = 384 and model = 'm-384' order by embedding::vector(384) <=> ${toVectorText(query)}::vector(384) limit 10`.execute(trx)
      ).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n');
    });
    expect(plan).toContain('chunk_embeddings_hnsw_384');
  });
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
