/**
 * HTTP benchmark with wrk (-t1 -c100 -d10s), every figure a ratio to bare Fastify measured
 * in the same run:
 *  1. the cost of Bastion's headers and boundary hooks on a route with no I/O (/healthz),
 *     and of the Prometheus latency hook on the same route (METRICS_TOKEN set);
 *  2. an authenticated read (GET /api/v1/me: session in Redis, rate-limit check in Redis,
 *     one primary-key query in PostgreSQL, all hardening on), also compared with a
 *     hand-written minimal route doing the same I/O. A CPU profile of Bastion during (2)
 *     says where the time goes.
 *
 *   DATABASE_URL=postgres://…/db REDIS_URL=redis://… npm run bench:http
 * (DATABASE_URL names the admin database: the run creates `<it>_http` and drops it at the end.)
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../server/src/config/index.js';
import { hashPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { hashToken } from '../server/src/platform/crypto/tokens.js';
import { createLogger } from '../server/src/platform/log.js';
import { signRequest } from '../server/src/sdk/sign.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { cores, loadAverage } from './lib/machine.js';
import { ROOT, tempDir, writeResult } from './lib/paths.js';
import { summariseProfile } from './lib/profile.js';
import { startNode, stop, waitUp } from './lib/processes.js';
import { dropDatabase, freshDatabase } from './lib/database.js';
import { wrk as runWrk, type WrkResult } from './lib/wrk.js';

const ADMIN_DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
if (!ADMIN_DATABASE_URL || !REDIS_URL) throw new Error('set DATABASE_URL and REDIS_URL (the benchmark measures the production backends)');
// A database of its own beside the one named, so a run never meets another run's rows and keys.
const DATABASE_URL = await freshDatabase(ADMIN_DATABASE_URL, 'http');
const DURATION = process.env.BENCH_SECONDS ?? '10';
const PASSWORD = 'violet tractor sings at dawn';
const EMAIL = 'bench-reader@example.org';

function wrk(url: string, headers: string[] = []): WrkResult {
  return runWrk(url, { seconds: Number(DURATION), headers });
}

function start(args: string[], env: Record<string, string> = {}, cwd = ROOT): ChildProcess {
  return startNode(args, { env, cwd });
}

const dataDir = tempDir('bastion-bench-http-');
const LIST_ITEMS = 20;
const profileDir = path.join(dataDir, 'profile');
const env = { DATA_DIR: dataDir, PORT: '3921', LOG_LEVEL: 'warn', REQUIRE_MFA: 'none', REGISTRATION: 'closed', DATABASE_URL, REDIS_URL, RATE_LIMIT_SCALE: '100000', DB_POOL_MAX: '10' };

// Seed one user; sign in through the API to get a real session.
const config = loadConfig(env);
const database = await openDatabase(config, createLogger('silent'));
await migrate(database.db);
await insertUser(database.db, { id: crypto.randomUUID(), email: EMAIL, name: 'Bench Reader', role: 'member', password_hash: await hashPassword(PASSWORD), email_verified_at: new Date(), created_at: new Date() });
const user = await database.db.selectFrom('users').select('id').where('email', '=', EMAIL).executeTakeFirstOrThrow();
await database.close();

const bare = start(['bench/servers/bare-fastify.mjs', '3920']);
await waitUp('http://127.0.0.1:3920/healthz');
const baseline = wrk('http://127.0.0.1:3920/healthz');
await stop(bare);

// The compiled server, as in production (npm start runs dist/ too).
execFileSync('npm', ['run', 'build', '-w', 'server'], { cwd: ROOT, stdio: 'ignore' });
const listSection = await listReads();
if (process.env.BENCH_ONLY === 'lists') {
  const report = [`# HTTP benchmark, list reads only (${new Date().toISOString().slice(0, 10)}, ${cores()} cores, load ${loadAverage()}, wrk -t1 -c100 -d${DURATION}s, PostgreSQL + Redis)`, '', ...listSection].join('\n');
  writeResult('http-lists-postgres.md', report);
  console.log(report);
  fs.rmSync(dataDir, { recursive: true, force: true });
  await dropDatabase(ADMIN_DATABASE_URL, DATABASE_URL);
  process.exit(0);
}
let bastion = start(['dist/entry.js', 'serve'], env, path.join(ROOT, 'server'));
await waitUp('http://127.0.0.1:3921/healthz');
const hardened = wrk('http://127.0.0.1:3921/healthz');
await stop(bastion);
// The same with metrics on: every response observed in the latency histogram.
bastion = start(['dist/entry.js', 'serve'], { ...env, METRICS_TOKEN: crypto.randomUUID() + crypto.randomUUID() }, path.join(ROOT, 'server'));
await waitUp('http://127.0.0.1:3921/healthz');
const withMetrics = wrk('http://127.0.0.1:3921/healthz');
await stop(bastion);

bastion = start(['--cpu-prof', `--cpu-prof-dir=${profileDir}`, 'dist/entry.js', 'serve'], env, path.join(ROOT, 'server'));
await waitUp('http://127.0.0.1:3921/healthz');
const login = await fetch('http://127.0.0.1:3921/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
if (!cookie.includes('bst_sess_')) throw new Error(`sign-in failed: ${login.status}`);
const read = wrk('http://127.0.0.1:3921/api/v1/me', [`Cookie: ${cookie}`]);
const unauthenticated = wrk('http://127.0.0.1:3921/api/v1/healthz');
// The same read with the other credential types.
const csrf = ((await (await fetch('http://127.0.0.1:3921/api/v1/auth/csrf', { headers: { cookie, connection: 'close' } })).json()) as { token: string }).token;
const post = (url: string, body: unknown, headers: Record<string, string>) =>
  fetch(`http://127.0.0.1:3921${url}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:3921', connection: 'close', ...headers }, body: JSON.stringify(body) });
const apiKey = ((await (await post('/api/v1/api-keys', { name: 'bench', scopes: ['profile:read'] }, { cookie, 'x-csrf-token': csrf })).json()) as { key: string }).key;
const jwt = ((await (await post('/api/v1/auth/token', { grantType: 'session' }, { cookie, 'x-csrf-token': csrf })).json()) as { accessToken: string }).accessToken;
const readWithKey = wrk('http://127.0.0.1:3921/api/v1/me', [`Authorization: Bearer ${apiKey}`]);
const readWithJwt = wrk('http://127.0.0.1:3921/api/v1/me', [`Authorization: Bearer ${jwt}`]);
// Signed requests: the signed route is the agent webhook (verify HMAC, remember the
// signature, start a run with the built-in extractive agent, answer 202). Each request is
// signed afresh with a unique body, so none is a replay. autocannon (wrk cannot sign).
const agent = (await (await post('/api/v1/agents', { name: 'bench hook' }, { cookie, 'x-csrf-token': csrf })).json()) as { id: string };
const hook = (await (await post(`/api/v1/agents/${agent.id}/webhook-secret`, {}, { cookie, 'x-csrf-token': csrf })).json()) as { secret: string; url: string };
let signed = 0;
const signedRun = await autocannon({
  url: 'http://127.0.0.1:3921',
  connections: 100,
  duration: Number(DURATION),
  requests: [
    {
      method: 'POST',
      path: hook.url,
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => {
        const body = JSON.stringify({ input: `ping ${signed++}` });
        return { ...request, body, headers: { ...request.headers, 'bastion-signature': signRequest(hook.secret, { method: 'POST', url: hook.url, body }) } };
      },
    },
  ],
});
const readSigned: WrkResult = { rps: signedRun.requests.average, p50: signedRun.latency.p50, p99: signedRun.latency.p99, non2xx: signedRun.non2xx, socketErrors: signedRun.errors };
await stop(bastion);

const token = cookie.split('=')[1]!;
const minimal = start(['bench/servers/minimal-read.mjs', '3922', DATABASE_URL, REDIS_URL, `bastion:session:${hashToken(token)}`, user.id]);
await waitUp('http://127.0.0.1:3922/me');
const minimalRead = wrk('http://127.0.0.1:3922/me');
await stop(minimal);

const profile = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
const ratio = (r: WrkResult) => (r.rps / baseline.rps).toFixed(2);
const row = (label: string, r: WrkResult, extra = '') => `| ${label} | ${r.rps.toFixed(0)} | ${ratio(r)}× | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.non2xx} | ${extra} |`;
const report = [
  `# HTTP benchmark (${new Date().toISOString().slice(0, 10)}, ${cores()} cores, wrk -t1 -c100 -d${DURATION}s, PostgreSQL + Redis)`,
  '',
  '| scenario | req/s | vs bare Fastify | p50 ms | p99 ms | non-2xx | note |',
  '|---|---:|---:|---:|---:|---:|---|',
  row('bare Fastify, static JSON', baseline, 'baseline'),
  row('Bastion /healthz (headers, CORS, limits, overload guard)', hardened, 'bar ≥ 0.90×'),
  row('Bastion /healthz with metrics on (METRICS_TOKEN)', withMetrics, `${(withMetrics.rps / hardened.rps).toFixed(2)}× metrics off`),
  row('minimal route: Redis GET + pk query', minimalRead, ''),
  row('Bastion GET /api/v1/me (session, rate limit, pk query, all hardening)', read, `bar ≥ 0.25×; ${(read.rps / minimalRead.rps).toFixed(2)}× the minimal route (bar ≥ 0.9×)`),
  '',
  '## One authenticated read per credential type (GET /api/v1/me), vs the unauthenticated route in the same run',
  '',
  '| credential | req/s | vs unauthenticated (GET /api/v1/healthz) | p50 ms | p99 ms | non-2xx |',
  '|---|---:|---:|---:|---:|---:|',
  ...(
    [
      ['none: GET /api/v1/healthz', unauthenticated],
      ['session cookie', read],
      ['API key', readWithKey],
      ['JWT access token', readWithJwt],
      ['signed request (webhook: verify + start a run, 202; autocannon)', readSigned],
    ] as const
  ).map(([label, r]) => `| ${label} | ${r.rps.toFixed(0)} | ${(r.rps / unauthenticated.rps).toFixed(2)}× | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.non2xx} |`),
  '',
  'The signed-request row is not a read: the only signed route starts an agent run (two encrypted message writes in the background), so it bounds the webhook path, not the signature check alone (one HMAC and one store write).',
  '',
  ...listSection,
  '## Where the time goes (CPU profile of Bastion during GET /api/v1/me)',
  '',
  ...(profile ? summariseProfile(path.join(profileDir, profile)) : ['(no profile written)']),
  '',
].join('\n');
writeResult('http-postgres.md', report);
console.log(`load average after the run: ${loadAverage()}`);
console.log(report);
fs.rmSync(dataDir, { recursive: true, force: true });
await dropDatabase(ADMIN_DATABASE_URL, DATABASE_URL);

/**
 * Signed-in list reads (session cookie, 20 items each) against a hand-written Fastify route
 * doing the same I/O (one Redis GET, the same list query), with a CPU profile of Bastion
 * during the agents list. Returns the report section.
 */
async function listReads(): Promise<string[]> {
  const listProfileDir = path.join(dataDir, 'profile-lists');
  // At the default log level (the access log on), as an operator runs it.
  const listEnv = { ...env, LOG_LEVEL: 'info' };
  let server = start(['dist/entry.js', 'serve'], listEnv, path.join(ROOT, 'server'));
  await waitUp('http://127.0.0.1:3921/healthz');
  const signIn = await fetch('http://127.0.0.1:3921/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
  const session = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
  const token = ((await (await fetch('http://127.0.0.1:3921/api/v1/auth/csrf', { headers: { cookie: session, connection: 'close' } })).json()) as { token: string }).token;
  const send = async (url: string, body: unknown) => {
    const response = await fetch(`http://127.0.0.1:3921${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:3921', connection: 'close', cookie: session, 'x-csrf-token': token },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string };
  };
  let firstAgent = '';
  for (let i = 0; i < LIST_ITEMS; i++) {
    const agent = await send('/api/v1/agents', { name: `Agent ${i}`, description: 'An agent of the list benchmark', systemPrompt: 'Answer from the sources and cite them.' });
    firstAgent ||= agent.id;
    await send('/api/v1/knowledge-bases', { name: `Base ${i}`, description: 'A base of the list benchmark' });
  }
  // Conversations with a title (sealed under the workspace key, opened per row on reads): one message each, answered by the built-in provider.
  for (let i = 0; i < LIST_ITEMS; i++) {
    const conversation = await send('/api/v1/conversations', { agentId: firstAgent });
    await send(`/api/v1/conversations/${conversation.id}/messages`, { content: `Question ${i} of the list benchmark` });
  }
  const lists = ['agents', 'conversations', 'knowledge-bases'] as const;
  const bastionRuns = Object.fromEntries(lists.map((name) => [name, wrk(`http://127.0.0.1:3921/api/v1/${name}`, [`Cookie: ${session}`])]));
  await stop(server);
  // The profile in a run of its own, so the figures above carry no profiler overhead.
  server = start(['--cpu-prof', `--cpu-prof-dir=${listProfileDir}`, 'dist/entry.js', 'serve'], listEnv, path.join(ROOT, 'server'));
  await waitUp('http://127.0.0.1:3921/healthz');
  wrk('http://127.0.0.1:3921/api/v1/agents', [`Cookie: ${session}`]);
  await stop(server);

  const database = await openDatabase(config, createLogger('silent'));
  const workspace = await database.db.selectFrom('workspaces').select('id').where('personal_owner_id', '=', user.id).executeTakeFirstOrThrow();
  await database.close();
  const minimalServer = start(['bench/servers/minimal-list.mjs', '3923', DATABASE_URL, REDIS_URL!, `bastion:session:${hashToken(session.split('=')[1]!)}`, user.id, workspace.id]);
  await waitUp('http://127.0.0.1:3923/agents');
  const minimalRuns = Object.fromEntries(lists.map((name) => [name, wrk(`http://127.0.0.1:3923/${name}`)]));
  await stop(minimalServer);

  const listProfile = fs.existsSync(listProfileDir) ? fs.readdirSync(listProfileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
  return [
    `## Signed-in list reads (${LIST_ITEMS} items, session cookie, LOG_LEVEL=info) vs a hand-written Fastify route doing the same I/O`,
    '',
    '| list | Bastion req/s | minimal req/s | Bastion / minimal | Bastion p50 ms | Bastion p99 ms | minimal p99 ms | non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...lists.map((name) => {
      const b = bastionRuns[name]!;
      const m = minimalRuns[name]!;
      return `| GET /api/v1/${name} | ${b.rps.toFixed(0)} | ${m.rps.toFixed(0)} | ${(b.rps / m.rps).toFixed(2)}× | ${b.p50.toFixed(1)} | ${b.p99.toFixed(1)} | ${m.p99.toFixed(1)} | ${b.non2xx + m.non2xx} |`;
    }),
    '',
    'Targets (issue 18): Bastion / minimal ≥ 0.70× and Bastion p99 < 50 ms at 100 connections.',
    '',
    '### Where the time goes (CPU profile of Bastion during GET /api/v1/agents, a separate run)',
    '',
    ...(listProfile ? summariseProfile(path.join(listProfileDir, listProfile)) : ['(no profile written)']),
    '',
  ];
}
