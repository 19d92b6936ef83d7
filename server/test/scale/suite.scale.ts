/**
 * `npm run test:scale`: scale-out as operators run it. Two `bastion serve` instances and a
 * `bastion worker` on their own PostgreSQL and Redis (test/faults/cluster.ts), nginx in
 * front (nginx.ts). What one instance decides, the other must honour: sessions and
 * sign-out, rate limits and lockout counts, agent changes, cancel of an answer streaming
 * on the other, ingestion of uploads made through either (exactly once), one audit chain
 * that verifies; and a rolling restart of both instances under load through the proxy
 * loses no request.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/platform/db/database.js';
import { startFakeLlm, tokens, type FakeLlm } from '../fake-llm.js';
import { freePort, silentLogger, waitFor } from '../harness.js';
import { DATABASE_URL, PORTS, startCluster, type Cluster } from '../faults/cluster.js';
import type { Client } from '../faults/load.js';
import { setUpAccounts } from '../faults/setup.js';
import { startNginx, type Proxy } from './nginx.js';

const LOCKOUT_THRESHOLD = 5;
/** RATE_LIMIT_SCALE of the deployment: the password-check class allows 60 × this per minute. */
const RATE_LIMIT_SCALE = 5;

let cluster: Cluster;
let fake: FakeLlm;
let proxy: Proxy;
let client: Client;
let database: Database;

/** A fresh address per caller: instances believe X-Forwarded-For from 127.0.0.1 (TRUSTED_PROXIES). */
const ip = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

function createUser(email: string): string {
  const password = `${randomBytes(12).toString('base64url')} amber kettle`;
  const created = cluster.cli(['users', 'create-admin', '--email', email, '--name', 'Scale User', '--password-stdin'], password);
  if (created.status !== 0) throw new Error(`create-admin: ${created.output}`);
  return password;
}

function login(base: string, email: string, password: string, from = ip()): Promise<Response> {
  return fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': from }, body: JSON.stringify({ email, password }) });
}

function cookieOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

const codeOf = async (response: Response) => ((await response.json()) as { error?: { code?: string } }).error?.code;

function api(base: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${base}/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${client.key}`, 'x-workspace-id': client.workspaceId!, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

beforeAll(async () => {
  fake = await startFakeLlm();
  cluster = await startCluster({ RATE_LIMIT_SCALE: String(RATE_LIMIT_SCALE), LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD), TRUSTED_PROXIES: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '10000' });
  client = await setUpAccounts(cluster, fake.url);
  proxy = await startNginx(
    await freePort(),
    PORTS.api.map((port) => `127.0.0.1:${port}`),
  );
  database = openPostgres(DATABASE_URL, { DB_POOL_MAX: 2, DB_STATEMENT_TIMEOUT_MS: 15_000, DB_IDLE_TIMEOUT_MS: 1_000, DB_CONNECT_TIMEOUT_MS: 2_000 }, silentLogger);
}, 180_000);

afterAll(async () => {
  await database?.close();
  await proxy?.stop();
  await cluster?.stop();
  await fake?.close();
}, 60_000);

describe('two instances behind nginx', () => {
  it('shares sessions: made on one instance, used on the other, and signing out on one ends it on both', async () => {
    const [a, b] = cluster.urls;
    const email = `session-${randomBytes(3).toString('hex')}@example.org`;
    const signedIn = await login(a, email, createUser(email));
    expect(signedIn.status).toBe(200);
    const cookie = cookieOf(signedIn);
    expect((await fetch(`${b}/api/v1/me`, { headers: { cookie } })).status).toBe(200);
    const csrf = ((await (await fetch(`${b}/api/v1/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
    expect((await fetch(`${b}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status).toBe(200);
    for (const base of [a, b]) expect((await fetch(`${base}/api/v1/me`, { headers: { cookie } })).status).toBe(401);
  });

  it(`counts failed sign-ins on both instances together: at most ${LOCKOUT_THRESHOLD} of 20 parallel guesses are tried, then the account is locked on both`, async () => {
    const email = `lock-${randomBytes(3).toString('hex')}@example.org`;
    const password = createUser(email);
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => login(cluster.urls[i % 2]!, email, `wrong guess ${i}`)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length, statuses.join(',')).toBeLessThanOrEqual(LOCKOUT_THRESHOLD);
    expect(statuses.filter((s) => s === 429).length, statuses.join(',')).toBeGreaterThanOrEqual(20 - LOCKOUT_THRESHOLD);
    // Five failed verifications lock the account. Guesses that arrive after the first
    // failures were counted meet the growing delay between attempts instead (429
    // rate_limited, before any verification); then fewer than five were tried, nothing is
    // locked yet, and the delay is what refuses the right password.
    const tried = statuses.filter((s) => s === 401).length;
    for (const base of cluster.urls) {
      const right = await login(base, email, password);
      expect(right.status).toBe(429);
      expect(await codeOf(right), statuses.join(',')).toBe(tried === LOCKOUT_THRESHOLD ? 'account_locked' : 'rate_limited');
    }
  });

  it('shares rate limits: a burst split over both instances gets one budget, not two', async () => {
    const budget = 60 * RATE_LIMIT_SCALE;
    const from = ip();
    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: budget + 40 }, (_, i) =>
        fetch(`${cluster.urls[i % 2]}/api/v1/auth/password/check`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': from }, body: JSON.stringify({ password: `candidate ${i}` }) }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    // GCRA refills continuously (budget per minute): what the burst's own duration added is allowed too.
    const refilled = Math.ceil(((Date.now() - started) / 60_000) * budget);
    const allowed = statuses.filter((s) => s === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(budget);
    expect(allowed, `${refilled} refilled during the burst`).toBeLessThanOrEqual(budget + refilled);
    expect(statuses.filter((s) => s === 429).length).toBe(budget + 40 - allowed);
  });

  it('sees an agent change made on one instance at once on the other', async () => {
    const [a, b] = cluster.urls;
    for (let round = 0; round < 5; round++) {
      const prompt = `Answer in round ${round} ${randomBytes(3).toString('hex')}.`;
      const changed = await api(a, `/agents/${client.agentId}`, { method: 'PATCH', body: { systemPrompt: prompt } });
      expect(changed.status, await changed.clone().text()).toBe(200);
      const version = ((await changed.json()) as { version: number }).version;
      const seen = (await (await api(b, `/agents/${client.agentId}`)).json()) as { version: number; config: { systemPrompt: string } };
      expect({ version: seen.version, prompt: seen.config.systemPrompt }).toEqual({ version, prompt });
    }
  });

  it('cancels from one instance an answer streaming on the other, and the answer says cancelled', async () => {
    const [a, b] = cluster.urls;
    fake.reset();
    fake.enqueue({ kind: 'text', text: tokens(100), chunkDelayMs: 100 });
    const conversation = await api(a, '/conversations', { method: 'POST', body: { agentId: client.agentId } });
    const { id } = (await conversation.json()) as { id: string };
    const stream = await api(a, `/conversations/${id}/messages`, { method: 'POST', body: { content: 'Tell me a long story' }, headers: { accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: delta')) text += decoder.decode((await reader.read()).value, { stream: true });
    const cancel = await api(b, `/conversations/${id}/cancel`, { method: 'POST', body: {} });
    expect(await cancel.json()).toEqual({ cancelled: true });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const done = JSON.parse(/event: done\ndata: (.+)/.exec(text)?.[1] ?? '{}') as { message?: { status?: string; stopReason?: string } };
    expect(done.message).toMatchObject({ status: 'incomplete', stopReason: 'cancelled' });
  });

  it('ingests uploads made through both instances exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const form = new FormData();
      const marker = randomBytes(4).toString('hex');
      form.append('file', new Blob([Array.from({ length: 30 }, (_, p) => `Paragraph ${p} of note ${marker}: the quick brown fox.`).join('\n\n')], { type: 'text/plain' }), `note-${i}-${marker}.txt`);
      const response = await fetch(`${cluster.urls[i % 2]}/api/v1/knowledge-bases/${client.baseId}/documents`, { method: 'POST', headers: { authorization: `Bearer ${client.key}`, 'x-workspace-id': client.workspaceId! }, body: form });
      expect(response.status, await response.clone().text()).toBe(202);
      ids.push(((await response.json()) as { id: string }).id);
    }
    const settled = await waitFor(
      async () => Number((await sql<{ n: string }>`select count(*) as n from documents where id = any(${ids}::uuid[]) and status in ('ready', 'failed')`.execute(database.db)).rows[0]!.n) === ids.length,
      60_000,
      250,
    );
    expect(settled).toBe(true);
    const rows = await sql<{
      status: string;
      chunks: string;
      distinct_chunks: string;
    }>`select d.status, count(c.id) as chunks, count(distinct c.position) as distinct_chunks from documents d left join chunks c on c.document_id = d.id where d.id = any(${ids}::uuid[]) group by d.id, d.status`.execute(database.db);
    for (const row of rows.rows) {
      expect(row.status).toBe('ready');
      expect(Number(row.chunks)).toBeGreaterThan(0);
      expect(row.chunks).toBe(row.distinct_chunks); // one ingestion: no chunk written twice
    }
  });

  it('keeps one audit chain that verifies, written by both instances', () => {
    const verified = cluster.auditVerify();
    expect(verified.status, verified.output).toBe(0);
  });

  it('restarts both instances one after the other under load through nginx without a failed request', async () => {
    let stop = false;
    const outcomes = { ok: 0, failed: [] as string[] };
    const paths = ['/agents', '/conversations?limit=20', `/knowledge-bases/${client.baseId}/documents`, '/me'];
    const loop = async (n: number) => {
      for (let i = n; !stop; i++) {
        const path = paths[i % paths.length]!;
        try {
          const response = await api(proxy.url, path);
          await response.arrayBuffer();
          if (response.status === 200) outcomes.ok++;
          else outcomes.failed.push(`${path}: ${response.status}`);
        } catch (error) {
          outcomes.failed.push(`${path}: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const loops = Array.from({ length: 4 }, (_, n) => loop(n));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = outcomes.ok;
    for (const index of [0, 1] as const) {
      expect(await cluster.apis[index].stop('SIGTERM'), cluster.apis[index].output).toBe(0);
      cluster.apis[index].start();
      await cluster.whenReady(index, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    stop = true;
    await Promise.all(loops);
    console.log(`rolling restart: ${outcomes.ok} requests answered 200 (${before} before the first restart), ${outcomes.failed.length} failed`);
    expect(outcomes.failed.slice(0, 10)).toEqual([]);
    expect(outcomes.ok - before).toBeGreaterThan(100);
  }, 180_000);
});
