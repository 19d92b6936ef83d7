/**
 * Retrieval latency over a large index on PostgreSQL: BENCH_CHUNKS chunks (default 100k)
 * in one knowledge base, inserted directly, then 10 concurrent loops of
 * `KnowledgeRetrieval.hits` with the result cache off, for BENCH_SECONDS each, against a
 * `select 1` round trip measured in the same run (the baseline).
 * Two corpora: `zipf` (a 20,000-word vocabulary with Zipf-distributed frequencies, like
 * prose) and `narrow` (111 words: every query matches a large share of the chunks — the
 * worst case for full-text ranking). Queries are natural-language questions of 3–8 words.
 *
 * BENCH_VECTORS=384 adds vector search over the same chunks (see vectorSearch).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/search.ts
 * (DATABASE_URL names the admin database: a fresh database is created and dropped.)
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../server/src/config/index.js';
import { createLogger } from '../server/src/platform/log.js';
import { KnowledgeRetrieval } from '../server/src/modules/knowledge/retrieval.js';
import { defaultSearchConcurrency } from '../server/src/modules/knowledge/fulltext.js';
import { ChunkEmbeddings, toVectorText } from '../server/src/modules/knowledge/embeddings.js';
import type { Db } from '../server/src/platform/db/database.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import type { JsonCache } from '../server/src/platform/store/cache.js';
import { cores, loadAverage } from './lib/machine.js';
import { tempDir } from './lib/paths.js';
import { percentileFloor as pct } from './lib/stats.js';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const CORPORA = (process.env.BENCH_CORPORA ?? 'zipf,narrow').split(',');
const DB_NAME = 'bastion_bench_search';
const VECTOR_DIMS = Number(process.env.BENCH_VECTORS ?? 0);
/**
 * Full-text searches the process runs at once (SEARCH_CONCURRENCY), one set of rows each, in
 * the same run: e.g. `1000,3` compares no limit with the default on 2 cores. Default: the
 * server's default.
 */
/** Chunks added per second in the "while … added" rows; 0 (default): as fast as the database takes them. */
const INGEST_RATE = Number(process.env.BENCH_INGEST_RATE ?? 0);
const SEARCH_CONCURRENCIES = (process.env.BENCH_SEARCH_CONCURRENCY ?? String(defaultSearchConcurrency())).split(',').map(Number);
/** The indexes of migration 0029 the vector step rebuilds after loading (DDL takes no parameters). */
const HNSW_INDEXES: Record<number, ReturnType<typeof sql>> = {
  384: sql`create index chunk_embeddings_hnsw_384 on chunk_embeddings using hnsw ((embedding::vector(384)) vector_cosine_ops) where vector_dims(embedding) = 384`,
  1536: sql`create index chunk_embeddings_hnsw_1536 on chunk_embeddings using hnsw ((embedding::vector(1536)) vector_cosine_ops) where vector_dims(embedding) = 1536`,
};
if (VECTOR_DIMS && !HNSW_INDEXES[VECTOR_DIMS]) throw new Error('BENCH_VECTORS must be 384 or 1536');
/** BENCH_GIN: storage options of the full-text index to compare with the default (fastupdate on, 4 MB pending list). */
const GIN_VARIANTS: Record<string, ReturnType<typeof sql>> = {
  'fastupdate-off': sql`alter index chunks_tsv set (fastupdate = off)`,
  'pending-256kB': sql`alter index chunks_tsv set (gin_pending_list_limit = 256)`,
};
const GIN_VARIANT = process.env.BENCH_GIN;
if (GIN_VARIANT && !GIN_VARIANTS[GIN_VARIANT]) throw new Error(`BENCH_GIN must be one of ${Object.keys(GIN_VARIANTS).join(', ')}`);
const dbUrl = new URL(ADMIN_URL);
dbUrl.pathname = `/${DB_NAME}`;

let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const NARROW =
  'account answer archive audit backup balance billing branch budget cache calendar capacity certificate channel checkout client cluster compliance contract credit customer dashboard database deadline delivery deploy device discount domain driver encryption engine estimate export feature firewall forecast gateway hardware incident inventory invoice kernel ledger license limit load mailbox manager margin meeting migration mobile monitor network notice office onboarding order outage partner password payment payroll pipeline policy portal pricing printer privacy product project quota rebate recovery refund region release renewal report request retention revenue review router schedule schema security server service shipping signature storage subscription supplier support survey tariff ticket timeline token training transfer upgrade vendor version voucher warehouse warranty webhook workflow'.split(
    ' ',
  );
const SYLLABLES = 'ka lo mi nu pe ra si to vu ze bra cle dri fro glu pla sto tri ve xo an el in or us'.split(' ');
const ZIPF = Array.from({ length: 20_000 }, (_, i) => {
  let n = i + 7;
  let w = '';
  while (n > 0) {
    w += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  }
  return w;
});
// Zipf: P(rank r) ∝ 1/r, drawn by inverting the harmonic CDF approximately.
const zipfWord = () => ZIPF[Math.min(ZIPF.length - 1, Math.floor(Math.exp(rand() * Math.log(ZIPF.length))) - 1)]!;
const narrowWord = () => NARROW[Math.floor(rand() * rand() * NARROW.length)]!;
const QUESTION = ['what', 'is', 'the', 'how', 'do', 'i', 'when', 'does', 'a', 'of', 'for'];

const noCache = { getOrLoad: (_key: string, load: () => Promise<unknown>) => load() } as unknown as JsonCache<never>;

async function loop(fn: () => Promise<unknown>): Promise<{ lat: number[]; rps: number }> {
  // Warm-up, not measured: each new PostgreSQL connection pays page faults on the first touch of
  // every shared buffer (tens of ms a query here), which a long-running pool has paid already.
  const warm = Date.now() + WARMUP_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (Date.now() < warm) await fn();
    }),
  );
  const lat: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await fn();
        lat.push(performance.now() - t);
      }
    }),
  );
  return { lat, rps: lat.length / SECONDS };
}

/**
 * BENCH_VECTORS=D: every chunk also gets a D-dimension vector (points around 2,000 random
 * centres, like embeddings of related texts), the HNSW index is built after loading, and
 * `ChunkEmbeddings.nearest` (through the index) is compared with the exact search (every
 * vector of the base compared) at 10 concurrent searchers, with the index's recall@10.
 */
async function vectorSearch(db: Db, workspaceId: string, baseId: string, baseline: { lat: number[] }): Promise<string[]> {
  const dims = VECTOR_DIMS;
  const centres = Array.from({ length: 2_000 }, () => Array.from({ length: dims }, () => rand() - 0.5));
  const point = () => centres[Math.floor(rand() * centres.length)]!.map((x) => x + (rand() - 0.5) * 0.4);
  const model = `bench-${dims}`;
  await sql`drop index if exists ${sql.id(`chunk_embeddings_hnsw_${dims}`)}`.execute(db);
  const ids = await db.selectFrom('chunks').select('id').where('knowledge_base_id', '=', baseId).execute();
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 500) {
    await db
      .insertInto('chunk_embeddings')
      .values(ids.slice(i, i + 500).map(({ id }) => ({ chunk_id: id, knowledge_base_id: baseId, workspace_id: workspaceId, model, embedding: toVectorText(point()) })))
      .execute();
  }
  const loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await db.transaction().execute(async (trx) => {
    await sql`set local statement_timeout = 0`.execute(trx);
    await sql`set local maintenance_work_mem = '1GB'`.execute(trx);
    await HNSW_INDEXES[dims]!.execute(trx);
  });
  await sql`analyze chunk_embeddings`.execute(db);
  const indexS = (performance.now() - t1) / 1000;
  const embeddings = new ChunkEmbeddings(db, null as never);
  const exact = (vector: number[]) =>
    sql<{ chunk_id: string }>`select chunk_id from chunk_embeddings where workspace_id = ${workspaceId} and knowledge_base_id = ${baseId} and model = ${model}
      order by embedding <=> ${toVectorText(vector)}::vector, chunk_id limit 10`.execute(db);
  let found = 0;
  for (let q = 0; q < 50; q++) {
    const vector = point();
    const truth = new Set((await exact(vector)).rows.map((r) => r.chunk_id));
    found += (await embeddings.nearest(workspaceId, [baseId], model, vector, 10)).filter((hit) => truth.has(hit.chunkId)).length;
  }
  const hnsw = await loop(() => embeddings.nearest(workspaceId, [baseId], model, point(), 10));
  const scan = await loop(() => exact(point()));
  console.error(`vectors: ${ids.length} × ${dims} loaded in ${loadS.toFixed(1)} s, HNSW index built in ${indexS.toFixed(1)} s, recall@10 ${(found / 500).toFixed(3)}`);
  const row = (name: string, r: { lat: number[]; rps: number }) => `| vectors ${dims}d | ${name} | ${r.rps.toFixed(0)} | ${f(pct(r.lat, 50))} | ${f(pct(r.lat, 95))} | ${(pct(r.lat, 95) / pct(baseline.lat, 95)).toFixed(1)}× |`;
  return [row(`nearest 10, HNSW (recall@10 ${(found / 500).toFixed(3)}; index built in ${indexS.toFixed(0)} s)`, hnsw), row('nearest 10, exact (every vector compared)', scan)];
}

const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
const rows: string[] = [];
const f = (n: number) => n.toFixed(1);
for (const corpus of CORPORA) {
  await admin.query('DROP DATABASE IF EXISTS bastion_bench_search WITH (FORCE)');
  await admin.query('CREATE DATABASE bastion_bench_search');
  const config = loadConfig({ DATABASE_URL: dbUrl.toString(), DATA_DIR: tempDir('bastion-bench-search-') });
  const database = await openDatabase(config, createLogger('silent'));
  const db = database.db;
  await migrate(db);
  const word = corpus === 'zipf' ? zipfWord : narrowWord;
  const sentence = (n: number) => Array.from({ length: n }, word).join(' ') + '.';
  const now = new Date();
  const userId = randomUUID();
  const workspaceId = randomUUID();
  const baseId = randomUUID();
  await db
    .insertInto('users')
    .values({ id: userId, email: `search-bench-${userId}@example.org`, name: 'Search bench', role: 'member', password_hash: 'unused', email_verified_at: now, created_at: now } as never)
    .execute();
  await db.insertInto('workspaces').values({ id: workspaceId, name: 'bench', personal_owner_id: userId, monthly_token_budget: null, created_at: now, updated_at: now }).execute();
  await db.insertInto('knowledge_bases').values({ id: baseId, workspace_id: workspaceId, name: 'bench', description: '', created_by: userId, created_at: now, updated_at: now }).execute();
  if (GIN_VARIANT) await GIN_VARIANTS[GIN_VARIANT]!.execute(db);
  const addDocument = async (filename: string, count: number) => {
    const docId = randomUUID();
    await db
      .insertInto('documents')
      .values({
        id: docId,
        knowledge_base_id: baseId,
        workspace_id: workspaceId,
        filename,
        source: 'upload',
        source_url: null,
        declared_type: 'text/plain',
        kind: 'txt',
        size_bytes: '0',
        content_hash: docId,
        status: 'ready',
        error_code: null,
        error_message: null,
        attempts: 0,
        title: null,
        chunk_count: count,
        created_by: userId,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await db
      .insertInto('chunks')
      .values(
        Array.from({ length: count }, (_, p) => {
          let text = '';
          while (text.length < 300 + rand() * 900) text += sentence(8 + Math.floor(rand() * 12)) + ' ';
          return { id: randomUUID(), document_id: docId, knowledge_base_id: baseId, workspace_id: workspaceId, position: p, heading: rand() < 0.3 ? sentence(3) : null, text, start_char: 0, end_char: text.length };
        }),
      )
      .execute();
  };
  const t0 = performance.now();
  for (let done = 0; done < CHUNKS; done += 1000) await addDocument(`doc-${done}.txt`, Math.min(1000, CHUNKS - done));
  await sql`vacuum analyze chunks`.execute(db); // as autovacuum would: hint bits set, GIN index tidy
  const loadS = (performance.now() - t0) / 1000;
  const question = () => {
    const n = 3 + Math.floor(rand() * 6);
    return Array.from({ length: n }, () => (rand() < 0.4 ? QUESTION[Math.floor(rand() * QUESTION.length)]! : word())).join(' ');
  };
  if (process.env.BENCH_EXPLAIN) {
    const q = question();
    console.log(corpus, JSON.stringify(q));
    await new KnowledgeRetrieval(db, noCache).hits(workspaceId, [baseId], q, 5);
  }
  // The previous query, for comparison: every chunk sharing any word is ranked.
  const naive = (q: string) => {
    const words = [...new Set(q.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])].join(' | ');
    const tsquery = sql`to_tsquery('english', ${words})`;
    return sql`select c.id, c.text, ts_rank_cd(c.tsv, ${tsquery}, 32) as score from chunks c join documents d on d.id = c.document_id
      where c.workspace_id = ${workspaceId} and c.knowledge_base_id = ${baseId} and d.status = 'ready' and c.tsv @@ ${tsquery}
      order by score desc, c.id limit 5`.execute(db);
  };
  const baseline = await loop(() => sql`select 1`.execute(db));
  rows.push(`| ${corpus} | select 1 (baseline) | ${baseline.rps.toFixed(0)} | ${f(pct(baseline.lat, 50))} | ${f(pct(baseline.lat, 95))} | 1.00× |`);
  const p95 = (lat: number[]) => `${(pct(lat, 95) / pct(baseline.lat, 95)).toFixed(1)}×`;
  const slots = (concurrency: number) => (SEARCH_CONCURRENCIES.length > 1 ? `, ${concurrency >= 1000 ? 'no limit' : `at most ${concurrency} at once`}` : '');
  for (const concurrency of SEARCH_CONCURRENCIES) {
    const retrieval = new KnowledgeRetrieval(db, noCache, null, null, null, undefined, concurrency);
    const search = await loop(() => retrieval.hits(workspaceId, [baseId], question(), 5));
    rows.push(`| ${corpus} | search, topK 5${slots(concurrency)} | ${search.rps.toFixed(0)} | ${f(pct(search.lat, 50))} | ${f(pct(search.lat, 95))} | ${p95(search.lat)} |`);
  }
  // Before any chunk is added, as the searches above.
  const previous = await loop(() => naive(question()));
  rows.push(`| ${corpus} | previous query (every match ranked) | ${previous.rps.toFixed(0)} | ${f(pct(previous.lat, 50))} | ${f(pct(previous.lat, 95))} | ${p95(previous.lat)} |`);
  for (const concurrency of SEARCH_CONCURRENCIES) {
    const retrieval = new KnowledgeRetrieval(db, noCache, null, null, null, undefined, concurrency);
    // The same searches while documents of 100 chunks are added one after another (ingestion's writes).
    let ingesting = true;
    let added = 0;
    const ingestStart = performance.now();
    const ingest = (async () => {
      while (ingesting) {
        await addDocument(`live-${concurrency}-${added}.txt`, 100);
        added += 100;
        const due = INGEST_RATE > 0 ? ingestStart + (added / INGEST_RATE) * 1000 : 0;
        if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
      }
    })();
    const during = await loop(() => retrieval.hits(workspaceId, [baseId], question(), 5));
    ingesting = false;
    await ingest;
    rows.push(
      `| ${corpus} | search, topK 5${slots(concurrency)}, while ${(added / (SECONDS + WARMUP_SECONDS)).toFixed(0)} chunks/s are added | ${during.rps.toFixed(0)} | ${f(pct(during.lat, 50))} | ${f(pct(during.lat, 95))} | ${p95(during.lat)} |`,
    );
    await sql`vacuum chunks`.execute(db); // the next setting starts from a merged index, as this one did
  }
  console.error(`${corpus}: ${CHUNKS} chunks loaded in ${loadS.toFixed(1)} s`);
  if (VECTOR_DIMS > 0 && corpus === CORPORA[0]) rows.push(...(await vectorSearch(db, workspaceId, baseId, baseline)));
  await database.close();
}
if (!process.env.BENCH_KEEP) await admin.query('DROP DATABASE IF EXISTS bastion_bench_search WITH (FORCE)');
await admin.end();
console.log(`# Search benchmark (${new Date().toISOString().slice(0, 16)}Z, ${cores()} cores, PostgreSQL, load average ${loadAverage().toFixed(2)})\n`);
console.log(`${CHUNKS} chunks in one base; 10 concurrent loops for ${SECONDS} s; result cache off; questions of 3–8 words.\n`);
console.log('| corpus | query | per s | p50 ms | p95 ms | p95 vs baseline |\n|---|---|---:|---:|---:|---:|');
console.log(rows.join('\n'));
