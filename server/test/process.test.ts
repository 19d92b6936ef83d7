/**
 * The real process: `bastion serve` answers readiness and stops cleanly on
 * SIGTERM/SIGINT; in-flight requests are drained; the CLI's other commands.
 */
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeLlm, tokens } from './fake-llm.js';
import { signInOverHttp } from './http-session.js';
import { buildTestApp, freePort, tempDir, TEST_DATABASE_URL, TEST_REDIS_URL, TEST_RUN, waitFor } from './harness.js';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = ['--import', 'tsx', 'src/entry.ts'];

/** The environment a spawned Bastion gets: the run's backends, nothing else from the parent. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: TEST_RUN.path, LOG_LEVEL: 'info' };
  if (TEST_DATABASE_URL) env.DATABASE_URL = TEST_DATABASE_URL;
  if (TEST_REDIS_URL) env.REDIS_URL = TEST_REDIS_URL;
  return { ...env, ...extra };
}

function cli(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [...ENTRY, ...args], { cwd: SERVER_DIR, env: childEnv(env), encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('bastion serve', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'serves /readyz and exits 0 on %s',
    async (signal) => {
      const port = await freePort();
      const dataDir = await tempDir('serve');
      const child = spawn(process.execPath, [...ENTRY, 'serve'], {
        cwd: SERVER_DIR,
        env: childEnv({ PORT: String(port), DATA_DIR: dataDir }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

      const ready = await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 60_000, 250);
      expect(ready, output).toBe(true);
      const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { checks: unknown };
      // The embedded database's disk is measured; PostgreSQL's is the database server's concern.
      expect(body.checks).toEqual({ database: 'ok', store: 'ok', crypto: 'ok', storage: TEST_DATABASE_URL ? 'unchecked' : 'ok' });

      child.kill(signal);
      expect(await exited, output).toBe(0);
      expect(output).toContain('shutting down');
      expect(output).toContain('"msg":"stopped"');
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    },
    90_000,
  );

  it('fails fast with every bad variable named and no secret echoed', () => {
    // secretlint-disable-next-line -- fake credentials that must not be echoed
    const result = cli(['serve'], { PORT: 'x', DATABASE_URL: 'mysql://u:TopSecret99@h/db', DB_POOL_MAX: '-1' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/PORT/);
    expect(result.stderr).toMatch(/DATABASE_URL/);
    expect(result.stderr).toMatch(/DB_POOL_MAX/);
    expect(result.stderr).not.toContain('TopSecret99');
    expect(result.stderr).not.toMatch(/\s+at .*\.(ts|js):\d+/);
  });
});

describe('graceful shutdown', () => {
  it('drains in-flight requests and refuses new ones while closing', async () => {
    const t = await buildTestApp({
      routes: (app) => {
        app.get('/api/v1/probe/slow', async () => {
          await new Promise((resolve) => setTimeout(resolve, 500));
          return { done: true };
        });
      },
    });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as { port: number };
    const inFlight = fetch(`http://127.0.0.1:${port}/api/v1/probe/slow`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = t.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
    await closing;
  });

  it('bastion serve exits once its last answer stream ends, not at SHUTDOWN_TIMEOUT_MS; a request arriving meanwhile gets the envelope', async () => {
    const port = await freePort();
    const dataDir = await tempDir('drain');
    const base = `http://127.0.0.1:${port}/api/v1`;
    const email = `drain-${Date.now()}@example.org`;
    const password = 'violet tractor sings at dawn';
    const env = { PORT: String(port), DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: '20000', REQUIRE_MFA: 'none', OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*' };
    const admin = spawnSync(process.execPath, [...ENTRY, 'users', 'create-admin', '--email', email, '--name', 'Drain', '--password-stdin'], { cwd: SERVER_DIR, env: childEnv(env), encoding: 'utf8', input: `${password}\n`, timeout: 60_000 });
    expect(admin.status, admin.stdout + admin.stderr).toBe(0);
    const fake = await startFakeLlm();
    const child = spawn(process.execPath, [...ENTRY, 'serve'], { cwd: SERVER_DIR, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: performance.now() })));
    try {
      expect(await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 60_000, 250), output).toBe(true);

      // Signed in as a browser is: the session cookie and the CSRF token.
      const { cookie, csrf } = await signInOverHttp(base, email, password);
      const headers = { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' };
      const post = async (path: string, body: object) => {
        const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
        expect(response.status, await response.clone().text()).toBe(201);
        return (await response.json()) as { id: string };
      };
      const connection = await post('/provider-connections', { name: 'fake', kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: 'sk-test-provider-key-4f9a2c7e1b' });
      const agent = await post('/agents', { name: 'Helper', providerConnectionId: connection.id, model: 'fake-model-1' });
      const conversation = await post('/conversations', { agentId: agent.id });

      // An answer streamed over a keep-alive connection (its headers go out before the signal).
      fake.enqueue({ kind: 'text', text: tokens(8), chunkDelayMs: 150 });
      const keepAlive = new http.Agent({ keepAlive: true });
      let stream = '';
      let firstDelta: () => void = () => undefined;
      const delta = new Promise<void>((resolve) => (firstDelta = resolve));
      const streamEnded = new Promise<number>((resolve, reject) => {
        const request = http.request(`${base}/conversations/${conversation.id}/messages`, { method: 'POST', agent: keepAlive, headers: { ...headers, accept: 'text/event-stream' } }, (response) => {
          expect(response.headers.connection).toBe('keep-alive');
          response.on('data', (chunk: Buffer) => ((stream += chunk.toString()), stream.includes('event: delta') && firstDelta()));
          response.on('end', () => resolve(performance.now()));
        });
        request.on('error', reject);
        request.end(JSON.stringify({ content: 'Count slowly' }));
      });
      await delta;
      // A connection in the middle of its request head is busy: it stays open through the signal.
      const late = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => late.once('connect', resolve));
      late.write('GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\n');
      let lateAnswer = '';
      late.on('data', (chunk: Buffer) => (lateAnswer += chunk.toString()));
      const lateClosed = new Promise<void>((resolve) => late.on('close', () => resolve()));

      const signalled = performance.now();
      child.kill('SIGTERM');
      // Once new connections are refused the drain is on; then the busy connection's request arrives.
      const refused = () =>
        new Promise<boolean>((resolve) => {
          const probe = net.connect(port, '127.0.0.1');
          probe.once('connect', () => (probe.destroy(), resolve(false)));
          probe.once('error', () => resolve(true));
        });
      expect(await waitFor(refused, 5_000, 20)).toBe(true);
      late.write('\r\n');
      await lateClosed;
      const [head = '', body = ''] = lateAnswer.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 503 /);
      expect(head).toMatch(/^content-type: application\/json/im);
      expect(head).toMatch(/^connection: close$/im);
      expect(head).toMatch(/^retry-after: 5$/im);
      expect(JSON.parse(body)).toEqual({ error: { code: 'service_unavailable', message: expect.stringMatching(/shutting down/), requestId: expect.any(String) } });

      const ended = await streamEnded;
      expect(stream).toContain('event: done'); // drained, not cut
      const { code, at } = await exited;
      keepAlive.destroy();
      expect(code, output).toBe(0);
      expect(ended - signalled).toBeGreaterThan(300); // the stream outlived the signal
      expect(at - ended, output).toBeLessThan(2_000); // exit follows the last stream, not the 20 s timeout
      expect(at - signalled).toBeLessThan(5_000);
      expect(output).not.toContain('shutdown timeout reached');
      // What the last answers set off (traffic counts, search indexing) finished before the backends closed.
      expect(output).not.toMatch(/traffic monitoring failed|indexing failed|"level":50/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await fake.close();
    }
  }, 90_000);
});

describe('bastion CLI', () => {
  it('config check accepts a valid environment and rejects an insecure production one', () => {
    const ok = cli(['config', 'check'], { DATA_DIR: '/tmp/bastion-cli' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('Configuration is valid.');
    const bad = cli(['config', 'check'], { NODE_ENV: 'production', CORS_ORIGINS: '*', DATABASE_URL: '', REDIS_URL: '' });
    expect(bad.status).toBe(1);
    for (const name of ['MASTER_KEYS', 'PUBLIC_URL', 'DATABASE_URL', 'REDIS_URL', 'CORS_ORIGINS']) expect(bad.stderr).toContain(name);
  });

  it('migrate applies pending migrations, then reports the database up to date', async () => {
    const dataDir = await tempDir('migrate');
    const first = cli(['migrate'], { DATA_DIR: dataDir });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Applied|up to date/);
    const second = cli(['migrate'], { DATA_DIR: dataDir });
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  }, 60_000);

  it('worker refuses the embedded defaults with a clear message; unknown commands exit 2 with usage', () => {
    const worker = cli(['worker'], { DATABASE_URL: '', REDIS_URL: '' });
    expect(worker.status).toBe(2);
    expect(worker.stderr).toContain('needs REDIS_URL and DATABASE_URL');
    const unknown = cli(['frobnicate'], {});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('Usage: bastion');
  }, 60_000);

  it('config example prints every variable', () => {
    const result = cli(['config', 'example'], {});
    expect(result.status).toBe(0);
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'MASTER_KEYS', 'DB_STATEMENT_TIMEOUT_MS']) expect(result.stdout).toContain(`${name}=`);
  });
});
