/**
 * Login benchmark: throughput and latency of POST /api/v1/auth/login at 20, 50 and 100
 * concurrent clients against a real Bastion process (compiled `serve`), next to the
 * machine's argon2id ceiling measured in the same run (verifications per second with
 * four in parallel, as libuv's pool runs them). Sign-in is argon2-bound by design, so the
 * interesting ratio is "logins per second" against that ceiling. A last phase runs signed-in
 * reads (GET /api/v1/me, 10 connections) alone, then beside 50 signing-in clients: what
 * sign-ins do to everyone else's p99.
 *
 *   npm run bench:login                       # embedded PGlite + in-memory store
 *   DATABASE_URL=… REDIS_URL=… npm run bench:login
 * (DATABASE_URL names the admin database: the run creates `<it>_login` and drops it at the end.)
 */
import fs from 'node:fs';
import path from 'node:path';
import * as argon2 from '@node-rs/argon2';
import autocannon from 'autocannon';
import { loadConfig } from '../server/src/config/index.js';
import { hashPassword, verifyPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { createLogger } from '../server/src/platform/log.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { dropDatabase, freshDatabase } from './lib/database.js';
import { cores as coreCount, loadAverage } from './lib/machine.js';
import { ROOT, tempDir, writeResult } from './lib/paths.js';
import { startNode, waitUp } from './lib/processes.js';

const PORT = 3917;
const USERS = 300;
const PASSWORD = 'violet tractor sings at dawn';
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = (process.env.BENCH_CLIENTS ?? '20,50,100').split(',').map(Number);

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

/**
 * Verifications per second with `parallel` in flight for `seconds` on libuv's pool at normal
 * priority (not Bastion's lowered pool): the machine's argon2 ceiling.
 */
async function argon2Ceiling(parallel: number, seconds: number): Promise<number> {
  const stored = await hashPassword(PASSWORD);
  const verifyPassword = (hash: string, password: string) => argon2.verify(hash, password);
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await verifyPassword(stored, PASSWORD);
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  return done / ((performance.now() - start) / 1000);
}

async function seedUsers(env: Record<string, string>): Promise<void> {
  const config = loadConfig(env);
  const database = await openDatabase(config, createLogger('silent'));
  await migrate(database.db);
  const hash = await hashPassword(PASSWORD);
  for (let i = 0; i <= USERS; i++) {
    // bench0…bench299 sign in over and over; bench300 is the reader of the last phase.
    await insertUser(database.db, { id: crypto.randomUUID(), email: `bench${i}@example.org`, name: `Bench ${i}`, role: 'member', password_hash: hash, email_verified_at: new Date(), created_at: new Date() });
  }
  await database.close();
}

async function startServer(env: Record<string, string>) {
  const child = startNode([...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), 'dist/entry.js', 'serve'], { cwd: path.join(ROOT, 'server'), env });
  try {
    await waitUp(`http://127.0.0.1:${PORT}/readyz`, { intervalMs: 500, ready: (status) => status >= 200 && status < 300 });
  } catch {
    child.kill('SIGKILL');
    throw new Error('server did not become ready');
  }
  return child;
}

/** Signed-in reads of GET /api/v1/me at 10 connections for `seconds`. */
async function reads(cookie: string, seconds: number) {
  const result = await autocannon({ url: `http://127.0.0.1:${PORT}/api/v1/me`, connections: 10, duration: seconds, headers: { cookie } });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, ok: result['2xx'], other: result.non2xx + result.errors };
}

async function signIn(email: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${PORT}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
  if (!response.ok) throw new Error(`sign-in for the reader failed: ${response.status}`);
  return (response.headers.get('set-cookie') ?? '').split(';')[0]!;
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
  // Successful sign-ins only: refused ones (throttled, shed) are counted in `other`, not as throughput.
  return { connections, rps: result['2xx'] / result.duration, p50: result.latency.p50, p95: result.latency.p97_5 ?? result.latency.p99, p99: result.latency.p99, ok: result['2xx'], other: result.non2xx + result.errors, sent: next - offset };
}

const dataDir = tempDir('bastion-bench-');
// One reader makes thousands of requests a second: the read limit (600 a minute) would answer for it.
const env: Record<string, string> = { DATA_DIR: dataDir, PORT: String(PORT), LOG_LEVEL: 'warn', REQUIRE_MFA: 'none', REGISTRATION: 'closed', RATE_LIMIT_SCALE: '1000' };
// DATABASE_URL names the admin database: the run gets a database of its own beside it (dropped at the end).
if (process.env.DATABASE_URL) env.DATABASE_URL = await freshDatabase(process.env.DATABASE_URL, 'login');
if (process.env.REDIS_URL) Object.assign(env, { REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: `bench-login-${Date.now().toString(36)}:` }); // no throttles left by an earlier run

const hashMs = await argon2Cost();
const ceiling = await argon2Ceiling(4, 5);
await seedUsers(env);
const server = await startServer(env);
const rows = [];
let alone: Awaited<ReturnType<typeof reads>>;
let beside: Awaited<ReturnType<typeof reads>>;
let during: Awaited<ReturnType<typeof run>>;
try {
  // Signed in first: after the storm, this address's sign-ins are throttled as they should be.
  const cookie = await signIn(`bench${USERS}@example.org`);
  let offset = 0;
  for (const connections of CONCURRENCY) {
    const row = await run(connections, offset);
    offset += row.sent;
    rows.push(row);
  }
  alone = await reads(cookie, DURATION_S);
  [beside, during] = await Promise.all([reads(cookie, DURATION_S), run(50, offset)]);
} finally {
  server.kill('SIGTERM');
}

const cores = coreCount();
const lines = [
  `# Login benchmark (${new Date().toISOString().slice(0, 10)}, ${cores} cores, ${env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'} + ${env.REDIS_URL ? 'Redis' : 'memory store'}, ${DURATION_S} s per row)`,
  '',
  `One argon2id verification (m=19456 KiB, t=2, p=1): **${hashMs.toFixed(1)} ms** (median of 15, one at a time). Ceiling, measured: **${ceiling.toFixed(0)} verifications/s** with four in parallel for 5 s in the bench process (${((1000 / hashMs) * cores).toFixed(0)}/s would be ${cores} cores × one hash). Load average at the end: ${loadAverage().toFixed(2)}.`,
  '',
  '| clients | successful logins/s | share of ceiling | p50 ms | p95 ms | p99 ms | p95 / one hash | 2xx | other |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.connections} | ${r.rps.toFixed(1)} | ${((r.rps / ceiling) * 100).toFixed(0)}% | ${r.p50} | ${r.p95} | ${r.p99} | ${(r.p95 / hashMs).toFixed(1)}× | ${r.ok} | ${r.other} |`),
  '',
  'p95 is autocannon’s p97.5 bucket. "other" counts non-2xx answers (throttling) and socket errors.',
  '',
  '## Signed-in reads while people sign in',
  '',
  '| phase | reads/s | read p50 ms | read p99 ms | logins/s | share of ceiling | read non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|',
  `| reads alone (GET /api/v1/me, 10 connections) | ${alone.rps.toFixed(0)} | ${alone.p50} | ${alone.p99} | – | – | ${alone.other} |`,
  `| reads beside 50 signing-in clients | ${beside.rps.toFixed(0)} | ${beside.p50} | ${beside.p99} | ${during.rps.toFixed(1)} | ${((during.rps / ceiling) * 100).toFixed(0)}% | ${beside.other} |`,
  '',
  'The load generator (autocannon, two instances in the last row) runs on the same cores as Bastion and the hashing.',
];
const report = lines.join('\n') + '\n';
writeResult(`login-${env.DATABASE_URL ? 'postgres' : 'embedded'}.md`, report);
console.log(report);
fs.rmSync(dataDir, { recursive: true, force: true });
if (process.env.DATABASE_URL && env.DATABASE_URL) await dropDatabase(process.env.DATABASE_URL, env.DATABASE_URL);
