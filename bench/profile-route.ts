/**
 * Where one route spends its CPU: Bastion `serve` (compiled) on PostgreSQL + Redis with
 * --cpu-prof, a signed-in person with 20 agents, wrk -t1 -c50 (2 s warm-up, 5 s measured),
 * then the profile summarised (bench/lib/profile.ts). Creates and drops the database
 * `bastion_profile_route` beside the one named.
 *
 * BENCH_KEEP_PROFILE=1 keeps the .cpuprofile (its folder is printed).
 *
 *   npm run build -w server && DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/profile-route.ts /api/v1/me
 */
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { startNode, stop, waitUp } from './lib/processes.js';
import { wrk } from './lib/wrk.js';
import { summariseProfile } from './lib/profile.js';
import pg from 'pg';
import { sql } from 'kysely';
import { openPostgres } from '../server/src/platform/db/database.js';
import { createLogger } from '../server/src/platform/log.js';
import { loadAverage } from './lib/machine.js';
import { ROOT } from './lib/paths.js';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-profile-'));
const url = process.argv[2] ?? '/api/v1/me';
const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
if (!DATABASE_URL || !REDIS_URL) throw new Error('set DATABASE_URL and REDIS_URL');
const admin = openPostgres(DATABASE_URL, { DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: 30_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 5_000 }, createLogger('silent'));
// DDL takes no bound parameters: the name goes through sql.id (a quoted identifier).
await sql`drop database if exists ${sql.id('bastion_profile_route')} with (force)`.execute(admin.db);
await sql`create database ${sql.id('bastion_profile_route')}`.execute(admin.db);
const dbUrl = Object.assign(new URL(DATABASE_URL), { pathname: '/bastion_profile_route' }).toString();
const env = {
  DATA_DIR: dir,
  PORT: '3951',
  PUBLIC_URL: 'http://127.0.0.1:3951',
  DATABASE_URL: dbUrl,
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: `prof${Date.now()}:`,
  RATE_LIMIT_SCALE: '100000',
  REGISTRATION: 'open',
  REQUIRE_MFA: 'none',
};
const child = startNode(['--cpu-prof', `--cpu-prof-dir=${dir}/p`, 'dist/entry.js', 'serve'], { env, cwd: path.join(ROOT, 'server') });
await waitUp('http://127.0.0.1:3951/readyz', { ready: (s) => s === 200 });
const base = 'http://127.0.0.1:3951';
const json = { 'content-type': 'application/json', origin: base, connection: 'close' };
const email = `p${Date.now()}@example.org`;
await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, name: 'P', password: 'violet tractor sings at dawn' }) });
const db = new pg.Client({ connectionString: dbUrl });
await db.connect();
await db.query('update users set email_verified_at = now() where email = $1', [email]);
await db.end();
const signIn = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: 'violet tractor sings at dawn' }) });
const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
const csrf = ((await (await fetch(`${base}/api/v1/auth/csrf`, { headers: { cookie, connection: 'close' } })).json()) as { token: string }).token;
for (let i = 0; i < 20; i++) await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': csrf }, body: JSON.stringify({ name: `Agent ${i}`, description: 'x', systemPrompt: 'Answer.' }) });
wrk(base + url, { seconds: 2, connections: 50, headers: [`Cookie: ${cookie}`] });
const measured = wrk(base + url, { seconds: 5, connections: 50, headers: [`Cookie: ${cookie}`] });
await stop(child);
const f = fs.readdirSync(`${dir}/p`)[0]!;
console.log(`${url}: ${measured.rps.toFixed(0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, non-2xx ${measured.non2xx}; load average ${loadAverage().toFixed(2)}\n`);
console.log(summariseProfile(path.join(`${dir}/p`, f)).join('\n'));
await sql`drop database if exists ${sql.id('bastion_profile_route')} with (force)`.execute(admin.db);
await admin.close();
if (process.env.BENCH_KEEP_PROFILE) console.log(`profile kept in ${dir}/p`);
else fs.rmSync(dir, { recursive: true, force: true });
