/**
 * The real process: `bastion serve` answers readiness and stops cleanly on
 * SIGTERM/SIGINT; in-flight requests are drained; the CLI's other commands.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
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
  });

  it('config example prints every variable', () => {
    const result = cli(['config', 'example'], {});
    expect(result.status).toBe(0);
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'MASTER_KEYS', 'DB_STATEMENT_TIMEOUT_MS']) expect(result.stdout).toContain(`${name}=`);
  });
});
