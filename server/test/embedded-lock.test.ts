/**
 * The embedded default (PGlite under DATA_DIR, in-memory store) as an operator runs it, with
 * real processes on one DATA_DIR:
 * - while `bastion serve` runs, CLI commands that use the database and a second serve refuse
 *   (exit 1, the holder's pid) instead of acting on a stale copy; after SIGTERM, and after
 *   kill -9 (the claim is stale), they work;
 * - sessions survive a restart (and a crash): the same cookie and CSRF token keep working, a
 *   revoked session stays revoked, an idle one is neither accepted nor listed.
 * The files share one DATA_DIR and run in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/platform/db/database.js';
import { CLAIM_FILE } from '../src/platform/db/data-dir-claim.js';
import { freePort, silentLogger, tempDir, TEST_RUN, waitFor } from './harness.js';
import { signInOverHttp, type HttpSession } from './http-session.js';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = ['--import', 'tsx', 'src/entry.ts'];
const EMAIL = 'owner@example.org';
const PASSWORD = 'violet tractor sings at dawn';

const dataDir = await tempDir('embedded-lock');
const port = await freePort();
const base = `http://127.0.0.1:${port}/api/v1`;
/** The embedded default: no DATABASE_URL, no REDIS_URL, whatever the run's backends are. */
const env: Record<string, string> = { PATH: TEST_RUN.path ?? '', DATA_DIR: dataDir, PORT: String(port), REQUIRE_MFA: 'none', LOG_LEVEL: 'warn', RATE_LIMIT_SCALE: '1000' };
const lockFile = path.join(dataDir, CLAIM_FILE);

/** Runs a bastion command to its end (killed after 90 s: a refusal must come quickly). */
function bastion(args: string[], extra: Record<string, string> = {}, input = ''): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...ENTRY, ...args], { cwd: SERVER_DIR, env: { ...env, ...extra }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
    child.stdin.end(input);
  });
}

interface Server {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

const servers: ChildProcess[] = [];
afterAll(() => {
  for (const child of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, [...ENTRY, 'serve'], { cwd: SERVER_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await waitFor(async () => child.exitCode === null && (await fetch(`${base.replace('/api/v1', '')}/readyz`).catch(() => undefined))?.status === 200, 90_000, 200);
  expect(ready, output).toBe(true);
  return { child, exited, output: () => output };
}

type Browser = HttpSession;

const signIn = (userAgent: string): Promise<Browser> => signInOverHttp(base, EMAIL, PASSWORD, userAgent);

const status = async (browser: Browser, path: string) => (await fetch(`${base}${path}`, { headers: { cookie: browser.cookie } })).status;
const sessionList = async (browser: Browser) => ((await (await fetch(`${base}/auth/sessions`, { headers: { cookie: browser.cookie } })).json()) as { sessions: { id: string; current: boolean; userAgent: string }[] }).sessions;
const revoke = (browser: Browser, id: string) => fetch(`${base}/auth/sessions/${id}`, { method: 'DELETE', headers: { cookie: browser.cookie, 'x-csrf-token': browser.csrf } });

const REFUSED = /Bastion is running with this DATA_DIR \(pid (\d+)\); use the admin screen or stop it first/;

let server: Server;
let keep: Browser;
let revoked: Browser;
let idle: Browser;
let revokedId = '';

describe('bastion on the embedded default', () => {
  it('while serve runs, CLI commands on the database and a second serve refuse', async () => {
    const created = await bastion(['users', 'create-admin', '--email', EMAIL, '--name', 'Owner', '--password-stdin'], {}, `${PASSWORD}\n`);
    expect(created.status, created.out).toBe(0);
    server = await startServer();

    const claim = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number; owner: string };
    expect(claim).toMatchObject({ pid: server.child.pid, owner: 'serve' });
    expect(fs.statSync(lockFile).mode & 0o777).toBe(0o600);

    const [admin, outbox, second] = await Promise.all([bastion(['users', 'create-admin', '--email', 'second@example.org', '--name', 'Second']), bastion(['mail', 'outbox']), bastion(['serve'], { PORT: String(await freePort()) })]);
    for (const refused of [admin, outbox]) {
      expect(refused.status, refused.out).toBe(1);
      expect(refused.out).toMatch(REFUSED);
      expect(REFUSED.exec(refused.out)?.[1]).toBe(String(server.child.pid));
    }
    expect(outbox.out).not.toContain('The outbox is empty');
    expect(second.status, second.out).toBe(1);
    expect(second.out).toContain(`Bastion is already running with this DATA_DIR (pid ${server.child.pid}`);
    expect(server.child.exitCode).toBe(null); // untouched
  }, 240_000);

  it('sessions survive a restart; a revoked one stays revoked, an idle one is not listed; the CLI works once serve stopped', async () => {
    keep = await signIn('Keeper');
    revoked = await signIn('Revoked');
    idle = await signIn('Idle');
    const before = await sessionList(keep);
    expect(before).toHaveLength(3);
    revokedId = before.find((s) => s.userAgent === 'Revoked')!.id;
    const idleId = before.find((s) => s.userAgent === 'Idle')!.id;
    expect((await revoke(keep, revokedId)).status).toBe(200);
    expect(await status(revoked, '/me')).toBe(401);

    server.child.kill('SIGTERM');
    expect(await server.exited, server.output()).toBe(0);
    expect(fs.existsSync(lockFile)).toBe(false);
    const outbox = await bastion(['mail', 'outbox']);
    expect(outbox.status, outbox.out).toBe(0);

    // The idle session was last used longer ago than the idle timeout (30 minutes).
    const database = await openDatabase(loadConfig(env), silentLogger, { owner: 'command' });
    await database.db
      .updateTable('sessions')
      .set({ last_seen_at: new Date(Date.now() - 31 * 60_000) })
      .where('id', '=', idleId)
      .execute();
    await database.close();

    server = await startServer();
    expect(await status(keep, '/me')).toBe(200);
    expect(await status(revoked, '/me')).toBe(401);
    expect(await status(idle, '/me')).toBe(401);
    expect((await sessionList(keep)).map((s) => [s.userAgent, s.current])).toEqual([['Keeper', true]]);
    // The CSRF token the browser holds still matches (404: already ended; a bad token would be 403).
    expect((await revoke(keep, revokedId)).status).toBe(404);
  }, 240_000);

  it('after kill -9 the claim is stale: the CLI works, serve starts, the session is still there', async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: server.child.pid }); // left behind
    const outbox = await bastion(['mail', 'outbox']);
    expect(outbox.status, outbox.out).toBe(0);

    server = await startServer();
    expect(await status(keep, '/me')).toBe(200);
    expect(await status(revoked, '/me')).toBe(401);
    server.child.kill('SIGTERM');
    expect(await server.exited, server.output()).toBe(0);
  }, 240_000);
});
