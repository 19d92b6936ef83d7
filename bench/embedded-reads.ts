/**
 * Reads on the embedded default while large documents are indexed: compiled `serve` on
 * PGlite + the in-memory store; one person uploads BENCH_DOCS (3) handbooks of about 1 MB
 * (some 2,000 chunks each), one after the other, each once the previous is ready; meanwhile
 * two others read in a loop, one request at a time each: `GET /api/v1/knowledge-bases` (a
 * database read) and the web app's page `GET /chat` (no database). Reports the readers'
 * p50/p95/max while indexing ran and the time each handbook took from upload to ready.
 *
 *   npm run build && npx tsx bench/embedded-reads.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../server/src/config/index.js';
import { hashPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { createLogger } from '../server/src/platform/log.js';
import { cores, loadAverage } from './lib/machine.js';
import { ROOT, tempDir } from './lib/paths.js';
import { assertPortFree, startNode, stop, waitUp } from './lib/processes.js';
import { percentile } from './lib/stats.js';

const PORT = 3963;
const BASE = `http://127.0.0.1:${PORT}`;
const DOCS = Number(process.env.BENCH_DOCS ?? '3');
const PASSWORD = 'violet tractor sings at dawn';
const dataDir = tempDir('bastion-bench-reads-');
const env = { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(PORT), PUBLIC_URL: BASE, REGISTRATION: 'closed', REQUIRE_MFA: 'none', RATE_LIMIT_SCALE: '1000', LOG_LEVEL: 'warn' };

await assertPortFree(PORT);
const database = await openDatabase(loadConfig(env), createLogger('silent'), { owner: 'command' });
await migrate(database.db);
const hash = await hashPassword(PASSWORD);
for (const name of ['uploader', 'reader']) await insertUser(database.db, { id: crypto.randomUUID(), email: `${name}@example.org`, name, role: 'member', password_hash: hash, email_verified_at: new Date(), created_at: new Date() });
await database.close();

const server = startNode(['dist/entry.js', 'serve'], { env, cwd: path.join(ROOT, 'server') });
await waitUp(`${BASE}/readyz`, { ready: (status) => status === 200 });

async function signIn(email: string) {
  const answer = await fetch(`${BASE}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: BASE }, body: JSON.stringify({ email, password: PASSWORD }) });
  const cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0]!;
  const { token } = (await (await fetch(`${BASE}/api/v1/auth/csrf`, { headers: { cookie } })).json()) as { token: string };
  return { cookie, origin: BASE, 'x-csrf-token': token };
}
const uploader = await signIn('uploader@example.org');
const reader = await signIn('reader@example.org');
const base = (await (await fetch(`${BASE}/api/v1/knowledge-bases`, { method: 'POST', headers: { ...uploader, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Handbooks' }) })).json()) as { id: string };

const handbook = (n: number) =>
  [`# Handbook ${n}`, '', ...Array.from({ length: 8_000 }, (_, i) => `Paragraph ${i}: the harbour office opens at ${7 + (i % 4)} in the morning; claims are filed within ${20 + (i % 60)} days (edition ${n}).`)].join('\n\n');

let indexing = true;
const latencies: Record<string, number[]> = { 'GET /api/v1/knowledge-bases': [], 'GET /chat (page)': [] };
async function readLoop(name: string, url: string, headers: Record<string, string>) {
  while (indexing) {
    const started = performance.now();
    const answer = await fetch(BASE + url, { headers });
    await answer.arrayBuffer();
    if (answer.status !== 200) throw new Error(`${name}: HTTP ${answer.status}`);
    latencies[name]!.push(performance.now() - started);
  }
}
const readers = [readLoop('GET /api/v1/knowledge-bases', '/api/v1/knowledge-bases', reader), readLoop('GET /chat (page)', '/chat', { accept: 'text/html' })];

const loadBefore = loadAverage();
const indexed: number[] = [];
for (let n = 1; n <= DOCS; n++) {
  const started = performance.now();
  const form = new FormData();
  form.append('file', new Blob([handbook(n)], { type: 'text/markdown' }), `handbook-${n}.md`);
  const answer = await fetch(`${BASE}/api/v1/knowledge-bases/${base.id}/documents`, { method: 'POST', headers: uploader, body: form });
  const { id } = (await answer.json()) as { id: string };
  for (;;) {
    const { status } = (await (await fetch(`${BASE}/api/v1/knowledge-bases/${base.id}/documents/${id}`, { headers: uploader })).json()) as { status: string };
    if (status === 'ready') break;
    if (status === 'failed') throw new Error('a handbook failed to index');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  indexed.push(performance.now() - started);
}
indexing = false;
await Promise.all(readers);
await stop(server);
fs.rmSync(dataDir, { recursive: true, force: true });

const lines = [
  `Reads while ${DOCS} handbooks of 1 MB are indexed, embedded default (${new Date().toISOString()}, ${cores()} cores, load average ${loadBefore.toFixed(2)} before, ${loadAverage().toFixed(2)} after)`,
  '',
  '| reader | requests | p50 ms | p95 ms | max ms |',
  '|---|---:|---:|---:|---:|',
  ...Object.entries(latencies).map(([name, ms]) => `| ${name} | ${ms.length} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 95).toFixed(1)} | ${Math.max(...ms).toFixed(1)} |`),
  '',
  `Upload to ready, per handbook: ${indexed.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ')}`,
];
console.log(lines.join('\n'));
