/**
 * I/O per request on each route named: Redis commands (INFO commandstats, counting the
 * commands run inside scripts) and PostgreSQL transactions (pg_stat_database) over 200
 * sequential signed-in requests to compiled `serve`. With LOG_SQL=1 the database logs every
 * statement (log_statement = all) for a per-statement count from the server log.
 * Creates and drops the database `bastion_count_io` beside the one named.
 *
 *   npm run build -w server && DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/count-io.ts /api/v1/me /api/v1/agents
 */
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import { startNode, stop, waitUp } from './lib/processes.js';
import pg from 'pg';
import { ROOT } from './lib/paths.js';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-io-'));
const routes = process.argv.slice(2);
const DATABASE_URL = process.env.DATABASE_URL!;
const admin = new pg.Client({ connectionString: DATABASE_URL });
await admin.connect();
await admin.query('drop database if exists bastion_count_io with (force)');
await admin.query('create database bastion_count_io');
if (process.env.LOG_SQL) await admin.query("alter database bastion_count_io set log_statement = 'all'");
const dbUrl = Object.assign(new URL(DATABASE_URL), { pathname: '/bastion_count_io' }).toString();
const env = {
  DATA_DIR: dir,
  PORT: '3952',
  PUBLIC_URL: 'http://127.0.0.1:3952',
  DATABASE_URL: dbUrl,
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: `io${Date.now()}:`,
  RATE_LIMIT_SCALE: '100000',
  REGISTRATION: 'open',
  REQUIRE_MFA: 'none',
};
const child = startNode(['dist/entry.js', 'serve'], { env, cwd: path.join(ROOT, 'server') });
await waitUp('http://127.0.0.1:3952/readyz', { ready: (s) => s === 200 });
const base = 'http://127.0.0.1:3952';
const json = { 'content-type': 'application/json', origin: base };
const email = `p${Date.now()}@example.org`;
await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, name: 'P', password: 'violet tractor sings at dawn' }) });
const db = new pg.Client({ connectionString: dbUrl });
await db.connect();
await db.query('update users set email_verified_at = now() where email = $1', [email]);
const signIn = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: 'violet tractor sings at dawn' }) });
const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
const csrf = ((await (await fetch(`${base}/api/v1/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
for (let i = 0; i < 20; i++) await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': csrf }, body: JSON.stringify({ name: `Agent ${i}`, description: 'x', systemPrompt: 'Answer.' }) });
const redis = new Redis('redis://127.0.0.1:6379');
const stats = async () => {
  const info = await redis.info('commandstats');
  const r = Object.fromEntries([...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  const { rows } = await db.query("select xact_commit + xact_rollback as x, tup_returned, tup_fetched from pg_stat_database where datname = 'bastion_count_io'");
  return { r, x: Number(rows[0].x) };
};
const N = 200;
for (const route of routes) {
  for (let i = 0; i < 5; i++) await fetch(base + route, { headers: { cookie } });
  await new Promise((r) => setTimeout(r, 2500));
  const a = await stats();
  for (let i = 0; i < N; i++) await (await fetch(base + route, { headers: { cookie } })).arrayBuffer();
  await new Promise((r) => setTimeout(r, 2500)); // pg stats are flushed lazily (about once a second)
  const b = await stats();
  const cmds = Object.entries(b.r)
    .map(([k, v]) => [k, (v - (a.r[k] ?? 0)) / N] as const)
    .filter(([, v]) => v > 0.01);
  console.log(route, 'pg xacts/req', ((b.x - a.x) / N).toFixed(2), 'redis/req', cmds.map(([k, v]) => `${k}=${v.toFixed(2)}`).join(' '));
}
await stop(child);
await db.end();
await redis.quit();
await admin.query('drop database if exists bastion_count_io with (force)');
await admin.end();
fs.rmSync(dir, { recursive: true, force: true });
