/**
 * The performance regression gate: `npm run perf:gate` (run by .ci/run on PostgreSQL + Redis).
 *
 * Three requests, each as a ratio to a baseline server measured in the same run, so the
 * machine's speed and load cancel out:
 *   - GET /healthz with every header and hook          vs bare Fastify (bench/servers/bare-fastify.mjs)
 *   - GET /api/v1/me, session cookie                    vs a hand-written route doing the same I/O (minimal-read.mjs)
 *   - GET /api/v1/agents, 20 agents, session cookie     vs a hand-written route doing the same I/O (minimal-list.mjs)
 * Each pair is measured ROUNDS times, Bastion and its baseline back to back (wrk -t1 -c50,
 * SECONDS s each), and the median ratio is compared with bench/baseline.json: the gate fails
 * when a ratio falls more than TOLERANCE below its committed value. The table is printed
 * every run. `--update-baseline` writes this run's medians as the new baseline.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm run perf:gate
 *
 * The database named in DATABASE_URL is only used to create (and drop) one of its own beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { openPostgres } from '../server/src/platform/db/database.js';
import { createLogger } from '../server/src/platform/log.js';
import { hashToken } from '../server/src/platform/crypto/tokens.js';
import { cores, loadAverage } from './lib/machine.js';
import { ROOT, tempDir } from './lib/paths.js';
import { assertPortFree, startNode, stop, waitUp } from './lib/processes.js';
import { hasWrk, wrk, type WrkResult } from './lib/wrk.js';

const ROUNDS = 3;
const SECONDS = Number(process.env.PERF_GATE_SECONDS ?? '4');
const CONNECTIONS = 50;
/** How far below its baseline a ratio may fall before the gate fails. */
const TOLERANCE = 0.3;
const BASELINE_FILE = path.join(ROOT, 'bench', 'baseline.json');
const PORTS = { bastion: 3941, bare: 3942, read: 3943, list: 3944 };
const EMAIL = 'gate-reader@example.org';
const PASSWORD = 'violet tractor sings at dawn';

interface Baseline {
  /** When and how the values were measured (for people reading the file). */
  measured: string;
  ratios: Record<string, number>;
}

const started = Date.now();
const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
if (!DATABASE_URL || !REDIS_URL) throw new Error('perf:gate: set DATABASE_URL and REDIS_URL (the gate measures the production backends)');
if (!hasWrk()) throw new Error('perf:gate: wrk is missing (apt-get install wrk)');
for (const port of Object.values(PORTS)) await assertPortFree(port, 'stop whatever runs there before the gate');

// A database of its own beside the given one, and a Redis key prefix of its own.
// Named after the given database, so a CI run's cleanup of `<run db>_*` also drops one left behind.
const gateDb = `${new URL(DATABASE_URL).pathname.slice(1) || 'bastion'}_perfgate`.replace(/[^a-z0-9_]/gi, '_');
const admin = openPostgres(DATABASE_URL, { DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: 30_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 5_000 }, createLogger('silent'));
// DDL takes no bound parameters: the name goes through sql.id (a quoted identifier).
await sql`drop database if exists ${sql.id(gateDb)} with (force)`.execute(admin.db);
await sql`create database ${sql.id(gateDb)}`.execute(admin.db);
const databaseUrl = Object.assign(new URL(DATABASE_URL), { pathname: `/${gateDb}` }).toString();
const prefix = `bastion-perf-gate-${process.pid}:`;
const dataDir = tempDir('bastion-perf-gate-');

const env = {
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  PORT: String(PORTS.bastion),
  PUBLIC_URL: `http://127.0.0.1:${PORTS.bastion}`,
  DATABASE_URL: databaseUrl,
  REDIS_URL,
  REDIS_KEY_PREFIX: prefix,
  // REQUIRE_MFA unset: the default (admins); the reader is a member, so the gate checks its cached state and lets it through.
  REGISTRATION: 'open',
  // The limiter still runs on every request; its budgets are raised so it does not answer for the read.
  RATE_LIMIT_SCALE: '100000',
  // LOG_LEVEL unset: the default level, as operators run it (the access log is part of what is measured).
};

const children: ReturnType<typeof startNode>[] = [];
try {
  if (!fs.existsSync(path.join(ROOT, 'server', 'dist', 'entry.js'))) throw new Error('perf:gate: build the server first (npm run build)');
  const bastion = startNode(['dist/entry.js', 'serve'], { env, cwd: path.join(ROOT, 'server') });
  children.push(bastion);
  await waitUp(`http://127.0.0.1:${PORTS.bastion}/readyz`, { ready: (status) => status === 200 });
  const { cookie, userId, workspaceId } = await seed();
  const sessionKey = `${prefix}session:${hashToken(cookie.split('=')[1]!)}`;
  children.push(startNode(['bench/servers/bare-fastify.mjs', String(PORTS.bare)]));
  children.push(startNode(['bench/servers/minimal-read.mjs', String(PORTS.read), databaseUrl, REDIS_URL, sessionKey, userId]));
  children.push(startNode(['bench/servers/minimal-list.mjs', String(PORTS.list), databaseUrl, REDIS_URL, sessionKey, userId, workspaceId]));
  await Promise.all([waitUp(`http://127.0.0.1:${PORTS.bare}/healthz`), waitUp(`http://127.0.0.1:${PORTS.read}/me`), waitUp(`http://127.0.0.1:${PORTS.list}/agents`)]);

  const auth = [`Cookie: ${cookie}`];
  const pairs = [
    { name: 'healthz_vs_bare', label: 'GET /healthz (all headers and hooks) vs bare Fastify', bastion: () => run(`http://127.0.0.1:${PORTS.bastion}/healthz`), base: () => run(`http://127.0.0.1:${PORTS.bare}/healthz`) },
    { name: 'me_vs_minimal_read', label: 'GET /api/v1/me (session) vs the minimal read', bastion: () => run(`http://127.0.0.1:${PORTS.bastion}/api/v1/me`, auth), base: () => run(`http://127.0.0.1:${PORTS.read}/me`) },
    { name: 'agents_vs_minimal_list', label: 'GET /api/v1/agents (20, session) vs the minimal list', bastion: () => run(`http://127.0.0.1:${PORTS.bastion}/api/v1/agents`, auth), base: () => run(`http://127.0.0.1:${PORTS.list}/agents`) },
  ];
  // Warm each server (JIT, pools, caches) before anything counts.
  for (const pair of pairs) {
    pair.bastion();
    pair.base();
  }

  const results = pairs.map((pair) => {
    const rounds: { bastion: WrkResult; base: WrkResult; ratio: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const bastionRun = pair.bastion();
      const baseRun = pair.base();
      rounds.push({ bastion: bastionRun, base: baseRun, ratio: bastionRun.rps / baseRun.rps });
    }
    const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio);
    return { ...pair, rounds, median: sorted[Math.floor(ROUNDS / 2)]! };
  });

  const update = process.argv.includes('--update-baseline');
  const baseline = readBaseline();
  const failures: string[] = [];
  const lines = [
    `perf:gate — ${new Date().toISOString()}, ${cores()} cores, load average ${loadAverage().toFixed(2)}, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, median of ${ROUNDS}, PostgreSQL + Redis`,
    '',
    '| request | Bastion req/s | baseline req/s | ratio (median) | rounds | committed | floor | p99 ms | result |',
    '|---|---:|---:|---:|---|---:|---:|---:|---|',
  ];
  for (const r of results) {
    const committed = baseline?.ratios[r.name];
    const floor = committed === undefined ? undefined : committed * (1 - TOLERANCE);
    const errors = r.rounds.reduce((sum, round) => sum + round.bastion.non2xx + round.bastion.socketErrors, 0);
    const ok = errors === 0 && (floor === undefined || r.median.ratio >= floor);
    if (!ok) failures.push(errors > 0 ? `${r.label}: ${errors} failed requests` : `${r.label}: ratio ${r.median.ratio.toFixed(2)}× is below the floor ${floor!.toFixed(2)}× (baseline ${committed!.toFixed(2)}× − ${TOLERANCE * 100}%)`);
    lines.push(
      `| ${r.label} | ${r.median.bastion.rps.toFixed(0)} | ${r.median.base.rps.toFixed(0)} | ${r.median.ratio.toFixed(2)}× | ${r.rounds.map((x) => x.ratio.toFixed(2)).join(', ')} | ${committed?.toFixed(2) ?? '—'}× | ${floor?.toFixed(2) ?? '—'}× | ${r.median.bastion.p99.toFixed(1)} | ${ok ? 'ok' : 'FAIL'} |`,
    );
  }
  lines.push('', `took ${Math.round((Date.now() - started) / 1000)} s`);
  console.log(lines.join('\n'));
  if (update) {
    const next: Baseline = {
      measured: `${new Date().toISOString()}, ${cores()} cores, load ${loadAverage().toFixed(2)}, median of ${ROUNDS} × wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, PostgreSQL + Redis`,
      ratios: Object.fromEntries(results.map((r) => [r.name, Number(r.median.ratio.toFixed(3))])),
    };
    fs.writeFileSync(BASELINE_FILE, JSON.stringify(next, null, 2) + '\n');
    console.log(`wrote ${path.relative(ROOT, BASELINE_FILE)}`);
  } else if (!baseline) {
    failures.push(`${path.relative(ROOT, BASELINE_FILE)} is missing: run npm run perf:gate -- --update-baseline and commit it`);
  }
  if (failures.length > 0) {
    console.error(`\nperf:gate FAILED:\n- ${failures.join('\n- ')}`);
    process.exitCode = 1;
  }
} finally {
  for (const child of children) await stop(child);
  await sql`drop database if exists ${sql.id(gateDb)} with (force)`.execute(admin.db).catch(() => undefined);
  await admin.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function run(url: string, headers: string[] = []): WrkResult {
  return wrk(url, { seconds: SECONDS, connections: CONNECTIONS, headers });
}

function readBaseline(): Baseline | null {
  try {
    return JSON.parse(fs.readFileSync(BASELINE_FILE, 'utf8')) as Baseline;
  } catch {
    return null;
  }
}

/** A person with a session and 20 agents in their personal workspace, made through the API. */
async function seed(): Promise<{ cookie: string; userId: string; workspaceId: string }> {
  const base = `http://127.0.0.1:${PORTS.bastion}`;
  const json = { 'content-type': 'application/json', origin: base, connection: 'close' };
  const registered = await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email: EMAIL, name: 'Gate Reader', password: PASSWORD }) });
  if (registered.status !== 202) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  // Verified directly: the gate has no mailbox.
  const user = (await db.query<{ id: string }>('update users set email_verified_at = now() where email = $1 returning id', [EMAIL])).rows[0]!;
  const signIn = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
  if (!cookie.includes('bst_sess_')) throw new Error(`sign-in: ${signIn.status} ${await signIn.text()}`);
  const csrf = ((await (await fetch(`${base}/api/v1/auth/csrf`, { headers: { cookie, connection: 'close' } })).json()) as { token: string }).token;
  for (let i = 0; i < 20; i++) {
    const created = await fetch(`${base}/api/v1/agents`, {
      method: 'POST',
      headers: { ...json, cookie, 'x-csrf-token': csrf },
      body: JSON.stringify({ name: `Agent ${i}`, description: 'An agent of the performance gate', systemPrompt: 'Answer from the sources and cite them.' }),
    });
    if (created.status !== 201) throw new Error(`agent: ${created.status} ${await created.text()}`);
  }
  const workspace = (await db.query<{ id: string }>('select id from workspaces where personal_owner_id = $1', [user.id])).rows[0]!;
  await db.end();
  return { cookie, userId: user.id, workspaceId: workspace.id };
}
