/**
 * Knowledge ingestion benchmark on PostgreSQL + Redis (compiled server, INGEST_CONCURRENCY=2
 * in the API process, RATE_LIMIT_SCALE=100000 so the `upload` budget does not refuse):
 *  1. ingestion: BENCH_DOCS mixed documents (md, txt, html, csv, json; 1–50 KB, all unique)
 *     uploaded by 8 concurrent uploaders; acceptance rate and time until all are `ready`;
 *  2. chat p50/p95 (10 users, built-in extractive agent, JSON) during ingestion vs. the
 *     same load with no ingestion (baseline, same run);
 *  3. search latency over BENCH_CHUNKS chunks inserted directly, vs. GET /api/v1/healthz.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/ingest.ts
 * (DATABASE_URL names the admin database: a fresh database is created and dropped.)
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../server/src/config/index.js';
import { SCOPES } from '../server/src/principal.js';
import { createLogger } from '../server/src/platform/log.js';
import { generateApiKey } from '../server/src/modules/api-keys/key-format.js';
import { insertApiKey } from '../server/src/modules/api-keys/repo.js';
import { hashPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { cores, loadAverage } from './lib/machine.js';
import { ROOT, tempDir, writeResult } from './lib/paths.js';
import { assertPortFree, startNode, stop, waitUp } from './lib/processes.js';
import { percentileFloor as pct } from './lib/stats.js';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DOCS = Number(process.env.BENCH_DOCS ?? 1000);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const INGEST_TIMEOUT_MS = Number(process.env.BENCH_INGEST_TIMEOUT_S ?? 180) * 1000;
const UPLOADERS = 8;
const CHAT_USERS = 10;
const PORT = Number(process.env.BENCH_PORT ?? 3957);
const BASE = `http://127.0.0.1:${PORT}`;
const RUN = randomBytes(4).toString('hex');
// A fixed name (CREATE DATABASE takes no parameters, and SQL is never string-built here).
const DB_NAME = 'bastion_bench_ingest';
const dbUrl = new URL(ADMIN_URL);
dbUrl.pathname = `/${DB_NAME}`;
const DATABASE_URL = dbUrl.toString();
const dataDir = tempDir('bastion-bench-ingest-');
const deadline = Date.now() + 10 * 60_000; // hard bound on the whole run

const WORDS =
  'account answer archive audit backup balance billing branch budget cache calendar capacity certificate channel checkout client cluster compliance contract credit customer dashboard database deadline delivery deploy device discount domain driver encryption engine estimate export feature firewall forecast gateway hardware incident inventory invoice kernel ledger license limit load mailbox manager margin meeting migration mobile monitor network notice office onboarding order outage partner password payment payroll pipeline policy portal pricing printer privacy product project quota rebate recovery refund region release renewal report request retention revenue review router schedule schema security server service shipping signature storage subscription supplier support survey tariff ticket timeline token training transfer upgrade vendor version voucher warehouse warranty webhook workflow'.split(
    ' ',
  );
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const word = () => WORDS[Math.floor(rand() * rand() * WORDS.length)]!; // skewed: some words common, some rare
const sentence = (n = 8 + Math.floor(rand() * 12)) => Array.from({ length: n }, word).join(' ') + '.';
const prose = (bytes: number) => {
  let s = '';
  while (s.length < bytes) s += sentence() + ' ';
  return s;
};

function makeDoc(i: number): { name: string; type: string; body: Buffer } {
  const size = 1024 + Math.floor(rand() * 49 * 1024);
  const tag = `doc-${RUN}-${i}`;
  switch (i % 5) {
    case 0: {
      let s = `# ${tag} ${sentence(4)}\n\n`;
      while (s.length < size) s += `## ${sentence(3)}\n\n${prose(800)}\n\n`;
      return { name: `${tag}.md`, type: 'text/markdown', body: Buffer.from(s) };
    }
    case 1:
      return { name: `${tag}.txt`, type: 'text/plain', body: Buffer.from(`${tag}\n${prose(size)}`) };
    case 2: {
      let s = `<!doctype html><html><head><title>${tag}</title></head><body><h1>${tag}</h1>`;
      while (s.length < size) s += `<h2>${sentence(3)}</h2><p>${prose(600)}</p>`;
      return { name: `${tag}.html`, type: 'text/html', body: Buffer.from(s + '</body></html>') };
    }
    case 3: {
      let s = 'id,name,description,amount\n';
      let r = 0;
      while (s.length < size) s += `${tag}-${r++},${word()},${sentence(6)},${Math.floor(rand() * 10_000)}\n`;
      return { name: `${tag}.csv`, type: 'text/csv', body: Buffer.from(s) };
    }
    default: {
      const items: unknown[] = [];
      let len = 0;
      while (len < size) {
        const item = { id: `${tag}-${items.length}`, title: sentence(4), text: prose(300) };
        len += JSON.stringify(item).length;
        items.push(item);
      }
      return { name: `${tag}.json`, type: 'application/json', body: Buffer.from(JSON.stringify({ tag, items })) };
    }
  }
}

function multipart(filename: string, content: Buffer, type: string): { body: Buffer; contentType: string } {
  const boundary = `----bastion${randomBytes(8).toString('hex')}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), content, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function api<T>(key: string, method: string, url: string, body?: unknown): Promise<T> {
  const r = await fetch(`${BASE}/api/v1${url}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

await assertPortFree(PORT, 'set BENCH_PORT');

const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS bastion_bench_ingest WITH (FORCE)');
await admin.query('CREATE DATABASE bastion_bench_ingest');
await admin.end();
const env: Record<string, string> = {
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  PORT: String(PORT),
  LOG_LEVEL: 'warn',
  REQUIRE_MFA: 'none',
  REGISTRATION: 'closed',
  RATE_LIMIT_SCALE: '100000',
  INGEST_CONCURRENCY: '2',
  INGEST_IN_PROCESS: 'true',
  WORKSPACE_STORAGE_QUOTA_BYTES: String(10 * 1024 ** 3),
  REDIS_KEY_PREFIX: `bench-ingest-${RUN}:`,
  DATABASE_URL,
  REDIS_URL,
};

let cpuNote = '';
try {
  const load = loadAverage();
  cpuNote = `load average at start ${load.toFixed(2)} on ${cores()} cores`;
  // eslint-disable-next-line no-empty
} catch {}

let bastion: ChildProcess | undefined;
try {
  // Seed users (first: the knowledge owner; all: chat users) with API keys.
  const keys: string[] = [];
  const config = loadConfig(env);
  const database = await openDatabase(config, createLogger('silent'));
  await migrate(database.db);
  const passwordHash = await hashPassword(`bench-${RUN}-unused`);
  const now = new Date();
  for (let i = 0; i < CHAT_USERS + 1; i++) {
    const id = crypto.randomUUID();
    await insertUser(database.db, { id, email: `ingest-bench-${RUN}-${i}@example.org`, name: `Ingest Bench ${i}`, role: 'member', password_hash: passwordHash, email_verified_at: now, created_at: now });
    const { key, hash, hint } = generateApiKey();
    await insertApiKey(database.db, { id: crypto.randomUUID(), user_id: id, name: 'ingest bench', key_hash: hash, hint, scopes: SCOPES.filter((s) => s !== 'admin:write'), allowed_cidrs: [], expires_at: null, created_at: now });
    keys.push(key);
  }

  execFileSync('npm', ['run', 'build', '-w', 'server'], { cwd: ROOT, stdio: 'ignore' });
  bastion = startNode(['dist/entry.js', 'serve'], { cwd: path.join(ROOT, 'server'), env });
  await waitUp(`${BASE}/api/v1/healthz`);

  const owner = keys[0]!;
  const chatKeys = keys.slice(1);
  const convs: { key: string; id: string }[] = [];
  for (const key of chatKeys) {
    const agent = await api<{ id: string }>(key, 'POST', '/agents', { name: 'bench agent' });
    const conv = await api<{ id: string }>(key, 'POST', '/conversations', { agentId: agent.id });
    convs.push({ key, id: conv.id });
  }

  /** Chat load: each user loops POST …/messages (JSON) until `stop()` resolves. */
  function chatLoad(until: () => boolean): Promise<{ lat: number[]; errors: Map<string, number> }> {
    const lat: number[] = [];
    const errors = new Map<string, number>();
    return Promise.all(
      convs.map(async (c) => {
        while (!until() && Date.now() < deadline) {
          const t = performance.now();
          try {
            const r = await fetch(`${BASE}/api/v1/conversations/${c.id}/messages`, {
              method: 'POST',
              headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json', accept: 'application/json' },
              body: JSON.stringify({ content: `What does the ${word()} ${word()} policy say?` }),
            });
            await r.arrayBuffer();
            if (r.ok) lat.push(performance.now() - t);
            else errors.set(String(r.status), (errors.get(String(r.status)) ?? 0) + 1);
          } catch (e) {
            errors.set((e as Error).message, (errors.get((e as Error).message) ?? 0) + 1);
          }
        }
      }),
    ).then(() => ({ lat, errors }));
  }

  // Warm-up (JIT, connection pools, first conversation writes), not measured.
  const warmEnd = Date.now() + Math.min(5, SECONDS) * 1000;
  await chatLoad(() => Date.now() > warmEnd);
  // 2a. Chat baseline, no ingestion.
  const baseEnd = Date.now() + SECONDS * 1000;
  const chatBase = await chatLoad(() => Date.now() > baseEnd);

  // 1. Ingestion (with chat running alongside).
  const kb = await api<{ id: string }>(owner, 'POST', '/knowledge-bases', { name: 'ingest bench' });
  const docs = Array.from({ length: DOCS }, (_, i) => makeDoc(i));
  const totalBytes = docs.reduce((s, d) => s + d.body.length, 0);
  const uploadLat: number[] = [];
  const uploadStatus = new Map<string, number>();
  const accepted: string[] = [];
  let ingesting = true;
  const chatDuring = chatLoad(() => !ingesting);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: UPLOADERS }, async () => {
      while (next < docs.length && Date.now() < deadline) {
        const d = docs[next++]!;
        const { body, contentType } = multipart(d.name, d.body, d.type);
        const t = performance.now();
        try {
          const r = await fetch(`${BASE}/api/v1/knowledge-bases/${kb.id}/documents`, { method: 'POST', headers: { authorization: `Bearer ${owner}`, 'content-type': contentType }, body });
          const json = (await r.json()) as { id?: string };
          uploadLat.push(performance.now() - t);
          uploadStatus.set(String(r.status), (uploadStatus.get(String(r.status)) ?? 0) + 1);
          if (r.status === 202 && json.id) accepted.push(json.id);
        } catch (e) {
          uploadStatus.set((e as Error).message, (uploadStatus.get((e as Error).message) ?? 0) + 1);
        }
      }
    }),
  );
  const uploadMs = performance.now() - t0;
  // Wait for all accepted documents to settle (status read straight from the database).
  const final = new Map<string, number>();
  let settledMs = NaN;
  const waitEnd = Date.now() + INGEST_TIMEOUT_MS;
  while (Date.now() < waitEnd) {
    const rows = await database.db
      .selectFrom('documents')
      .select(['status'])
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('knowledge_base_id', '=', kb.id)
      .groupBy('status')
      .execute();
    final.clear();
    for (const r of rows) final.set(r.status, Number(r.n));
    const pending = accepted.length - (final.get('ready') ?? 0) - (final.get('failed') ?? 0) - (final.get('quarantined') ?? 0);
    if (pending <= 0) {
      settledMs = performance.now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  ingesting = false;
  const chatIngest = await chatDuring;
  const readyBytes = accepted.length ? (totalBytes * (final.get('ready') ?? 0)) / docs.length : 0;
  // Spot-check one document through the API.
  const probe = accepted[0] ? await api<{ status: string; chunkCount?: number }>(owner, 'GET', `/knowledge-bases/${kb.id}/documents/${accepted[0]}`) : undefined;

  // 3. Large index: BENCH_CHUNKS chunks inserted directly, 100 chunks per document.
  const kb2 = await api<{ id: string }>(owner, 'POST', '/knowledge-bases', { name: 'search bench' });
  const kbRow = await database.db.selectFrom('knowledge_bases').select(['workspace_id']).where('id', '=', kb2.id).executeTakeFirstOrThrow();
  const ti = performance.now();
  const PER_DOC = 100;
  for (let done = 0; done < CHUNKS && Date.now() < deadline;) {
    const batch = Math.min(1000, CHUNKS - done);
    const docRows = [];
    const chunkRows = [];
    for (let d = 0; d < Math.ceil(batch / PER_DOC); d++) {
      const id = crypto.randomUUID();
      docRows.push({
        id,
        knowledge_base_id: kb2.id,
        workspace_id: kbRow.workspace_id,
        filename: `synthetic-${done + d * PER_DOC}.txt`,
        source: 'upload' as const,
        source_url: null,
        declared_type: 'text/plain',
        kind: 'txt' as const,
        size_bytes: '0',
        content_hash: randomBytes(32).toString('hex'),
        status: 'ready' as const,
        error_code: null,
        error_message: null,
        title: null,
        created_by: null,
        created_at: now,
        updated_at: now,
      });
      for (let p = 0; p < PER_DOC && d * PER_DOC + p < batch; p++) {
        const text = prose(300 + Math.floor(rand() * 900));
        chunkRows.push({ id: crypto.randomUUID(), document_id: id, knowledge_base_id: kb2.id, workspace_id: kbRow.workspace_id, position: p, heading: rand() < 0.3 ? sentence(3) : null, text, start_char: 0, end_char: text.length });
      }
    }
    await database.db.insertInto('documents').values(docRows).execute();
    await database.db.insertInto('chunks').values(chunkRows).execute();
    done += batch;
  }
  const chunkCount = Number(
    (
      await database.db
        .selectFrom('chunks')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('knowledge_base_id', '=', kb2.id)
        .executeTakeFirstOrThrow()
    ).n,
  );
  const analyze = new pg.Client({ connectionString: DATABASE_URL });
  await analyze.connect();
  await analyze.query('ANALYZE');
  await analyze.end();
  const insertS = (performance.now() - ti) / 1000;

  async function loop(fn: () => Promise<Response>): Promise<{ lat: number[]; errors: number; rps: number }> {
    const lat: number[] = [];
    let errors = 0;
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (Date.now() < end) {
          const t = performance.now();
          const r = await fn();
          await r.arrayBuffer();
          if (r.ok) lat.push(performance.now() - t);
          else errors++;
        }
      }),
    );
    return { lat, errors, rps: lat.length / SECONDS };
  }
  const health = await loop(() => fetch(`${BASE}/api/v1/healthz`));
  const search = await loop(() =>
    fetch(`${BASE}/api/v1/knowledge-bases/${kb2.id}/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: rand() < 0.5 ? word() : `${word()} ${word()}`, topK: 5 }),
    }),
  );
  await database.close();

  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
  const mb = totalBytes / 1024 ** 2;
  const map = (m: Map<string, number>) => [...m].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  const chatRow = (label: string, r: { lat: number[]; errors: Map<string, number> }, base: number[]) =>
    `| ${label} | ${r.lat.length} | ${f(pct(r.lat, 50))} | ${f(pct(r.lat, 95))} | ${(pct(r.lat, 95) / pct(base, 95)).toFixed(2)}× | ${map(r.errors)} |`;
  const loopRow = (label: string, r: { lat: number[]; errors: number; rps: number }) =>
    `| ${label} | ${r.rps.toFixed(0)} | ${f(pct(r.lat, 50))} | ${f(pct(r.lat, 95))} | ${(pct(r.lat, 95) / pct(health.lat, 95)).toFixed(2)}× | ${r.errors} |`;
  const report = [
    `# Ingestion benchmark (${new Date().toISOString().slice(0, 16)}Z, ${cores()} cores, PostgreSQL + Redis)`,
    '',
    `Compiled server (server/dist), INGEST_IN_PROCESS=true, INGEST_CONCURRENCY=2, RATE_LIMIT_SCALE=100000, fresh database \`${DB_NAME}\` (dropped after). BENCH_DOCS=${DOCS}, BENCH_CHUNKS=${CHUNKS}, BENCH_SECONDS=${SECONDS}. ${cpuNote}. The machine was shared: another engineer and another benchmark may have been using the CPU during this run, so absolute figures are noisy; compare ratios.`,
    '',
    '## 1. Ingestion',
    '',
    `${DOCS} documents (md, txt, html, csv, json in turn; 1–50 KB, unique), ${mb.toFixed(1)} MB in all, ${UPLOADERS} concurrent uploaders, while ${CHAT_USERS} users chat.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| uploads accepted (202) | ${accepted.length} / ${DOCS} |`,
    `| upload phase | ${(uploadMs / 1000).toFixed(1)} s |`,
    `| acceptance rate | ${(accepted.length / (uploadMs / 1000)).toFixed(1)} docs/s, ${(mb / (uploadMs / 1000)).toFixed(2)} MB/s |`,
    `| upload latency p50 / p95 | ${f(pct(uploadLat, 50))} / ${f(pct(uploadLat, 95))} ms |`,
    `| upload responses by status | ${map(uploadStatus)} |`,
    `| all settled after | ${Number.isFinite(settledMs) ? `${(settledMs / 1000).toFixed(1)} s` : `not within ${INGEST_TIMEOUT_MS / 1000} s`} |`,
    `| end-to-end ingestion | ${Number.isFinite(settledMs) ? `${((final.get('ready') ?? 0) / (settledMs / 1000)).toFixed(1)} docs/s, ${(readyBytes / 1024 ** 2 / (settledMs / 1000)).toFixed(2)} MB/s` : '—'} |`,
    `| final status | ${map(final)} |`,
    `| probe GET …/documents/:docId | ${probe ? JSON.stringify(probe.status) : '—'} |`,
    '',
    '## 2. Chat while ingesting',
    '',
    `${CHAT_USERS} users, each looping POST /api/v1/conversations/:id/messages (JSON, built-in extractive agent). Baseline: ${SECONDS} s of the same load with no ingestion, before it (after an unmeasured ${Math.min(5, SECONDS)} s warm-up). Conversations keep growing across phases, so later phases send longer histories.`,
    '',
    '| phase | answers | p50 ms | p95 ms | p95 vs baseline | errors |',
    '|---|---:|---:|---:|---:|---|',
    chatRow('no ingestion (baseline)', chatBase, chatBase.lat),
    chatRow('during ingestion (upload + until settled)', chatIngest, chatBase.lat),
    '',
    '## 3. Search over a large index',
    '',
    `${chunkCount} chunks (${Math.ceil(chunkCount / PER_DOC)} documents) inserted directly in batches of 1000 (varied prose from a ${WORDS.length}-word list, skewed frequencies), then ANALYZE: ${insertS.toFixed(1)} s. 10 concurrent loops for ${SECONDS} s each; queries are one or two words from the list, topK 5.`,
    '',
    '| route | req/s | p50 ms | p95 ms | p95 vs healthz | non-2xx |',
    '|---|---:|---:|---:|---:|---:|',
    loopRow('GET /api/v1/healthz (baseline)', health),
    loopRow('POST /api/v1/knowledge-bases/:id/search', search),
    '',
  ].join('\n');
  writeResult('ingest-postgres.md', report);
  console.log(report);
} finally {
  if (bastion) await stop(bastion, 5_000);
  const dropper = new pg.Client({ connectionString: ADMIN_URL });
  await dropper.connect();
  await dropper.query('DROP DATABASE IF EXISTS bastion_bench_ingest WITH (FORCE)');
  await dropper.end();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
