/**
 * Login benchmark: throughput and latency of POST /api/v1/auth/login at 20, 50 and 100
 * concurrent clients against a real Bastion process, next to the cost of one argon2id
 * verification measured in the same run. Sign-in is argon2-bound by design, so the
 * interesting ratio is "logins per second" against "hashes per second per core".
 *
 *   npm run bench:login                       # embedded PGlite + in-memory store
 *   DATABASE_URL=… REDIS_URL=… npm run bench:login
 */
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../server/src/config/index.js';
import { hashPassword, verifyPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { createLogger } from '../server/src/platform/log.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { cores as coreCount } from './lib/machine.js';
import { ROOT, tempDir, writeResult } from './lib/paths.js';
import { startNode, waitUp } from './lib/processes.js';

const PORT = 3917;
const USERS = 300;
const PASSWORD = 'violet tractor sings at dawn';
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = [20, 50, 100];

async function argon2Cost(): Promise<number> {
  const stored = await hashPassword(PASSWORD);
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const start = performance.now();
    await verifyPassword(stored, PASSWORD);
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[7]!;
}

async function seedUsers(env: Record<string, string>): Promise<void> {
  const config = loadConfig(env);
  const database = await openDatabase(config, createLogger('silent'));
  await migrate(database.db);
  const hash = await hashPassword(PASSWORD);
  for (let i = 0; i < USERS; i++) {
    await insertUser(database.db, { id: crypto.randomUUID(), email: `bench${i}@example.org`, name: `Bench ${i}`, role: 'member', password_hash: hash, email_verified_at: new Date(), created_at: new Date() });
  }
  await database.close();
}

async function startServer(env: Record<string, string>) {
  const child = startNode(['--import', 'tsx', 'src/entry.ts', 'serve'], { cwd: path.join(ROOT, 'server'), env });
  try {
    await waitUp(`http://127.0.0.1:${PORT}/readyz`, { intervalMs: 500, ready: (status) => status >= 200 && status < 300 });
  } catch {
    child.kill('SIGKILL');
    throw new Error('server did not become ready');
  }
  return child;
}

async function run(connections: number, offset: number) {
  let next = offset;
  const result = await autocannon({
    url: `http://127.0.0.1:${PORT}`,
    connections,
    duration: DURATION_S,
    requests: [
      {
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ email: `bench${next++ % USERS}@example.org`, password: PASSWORD }) }),
      },
    ],
  });
  return { connections, rps: result.requests.average, p50: result.latency.p50, p95: result.latency.p97_5 ?? result.latency.p99, p99: result.latency.p99, ok: result['2xx'], other: result.non2xx + result.errors, sent: next - offset };
}

const dataDir = tempDir('bastion-bench-');
const env: Record<string, string> = { DATA_DIR: dataDir, PORT: String(PORT), LOG_LEVEL: 'warn', REQUIRE_MFA: 'none', REGISTRATION: 'closed' };
if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;

const hashMs = await argon2Cost();
await seedUsers(env);
const server = await startServer(env);
const rows = [];
try {
  let offset = 0;
  for (const connections of CONCURRENCY) {
    const row = await run(connections, offset);
    offset += row.sent;
    rows.push(row);
  }
} finally {
  server.kill('SIGTERM');
}

const cores = coreCount();
const ceiling = (1000 / hashMs) * cores;
const lines = [
  `# Login benchmark (${new Date().toISOString().slice(0, 10)}, ${cores} cores, ${env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'} + ${env.REDIS_URL ? 'Redis' : 'memory store'}, ${DURATION_S} s per row)`,
  '',
  `One argon2id verification (m=19456 KiB, t=2, p=1): **${hashMs.toFixed(1)} ms** (median of 15) → ceiling ≈ ${ceiling.toFixed(0)} verifications/s on ${cores} cores.`,
  '',
  '| clients | logins/s | share of ceiling | p50 ms | p95 ms | p99 ms | p95 / one hash | 2xx | other |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.connections} | ${r.rps.toFixed(1)} | ${((r.rps / ceiling) * 100).toFixed(0)}% | ${r.p50} | ${r.p95} | ${r.p99} | ${(r.p95 / hashMs).toFixed(1)}× | ${r.ok} | ${r.other} |`),
  '',
  'p95 is autocannon’s p97.5 bucket. "other" counts non-2xx answers (throttling) and socket errors.',
];
const report = lines.join('\n') + '\n';
writeResult(`login-${env.DATABASE_URL ? 'postgres' : 'embedded'}.md`, report);
console.log(report);
fs.rmSync(dataDir, { recursive: true, force: true });
