/**
 * Outages of real services: Redis is a real redis-server on a spare port that the
 * test kills and restarts; PostgreSQL is reached through a TCP proxy the test cuts.
 * /readyz turns 503 naming the component, requests get 503 service_unavailable,
 * and the app recovers by itself when the service is back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../src/http/app-type.js';
import { openPostgres } from '../src/platform/db/database.js';
import { RedisStore } from '../src/platform/store/redis-store.js';
import { buildTestApp, createPostgresDatabase, freePort, postgresDatabaseName, silentLogger, TEST_DATABASE_URL, TEST_RUN, waitFor, type TestApp } from './harness.js';
import { TcpProxy } from './tcp-proxy.js';

const REDIS_SERVER = TEST_RUN.redisServerBin;
const hasRedisServer = spawnSync(REDIS_SERVER, ['--version']).status === 0;

function probeRoutes(app: App, deps: () => TestApp): void {
  app.get('/api/v1/probe/store', async () => ({ value: await deps().store.get('probe') }));
  app.get('/api/v1/probe/db', async () => {
    const result = await sql<{ n: number }>`select 1 as n`.execute(deps().database.db);
    return { n: result.rows[0]?.n };
  });
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: '', commandTimeoutMs: 500, logger: silentLogger });
  const up = await waitFor(async () => (await store.ping(), true), 10_000);
  await store.close();
  if (!up) throw new Error('redis-server did not start');
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

// redis-server is on every CI machine; a developer machine without it cannot run this file.
describe.runIf(hasRedisServer || TEST_RUN.ci)('Redis outage', () => {
  it('turns readiness and store-backed requests to 503 and recovers when Redis returns', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    cleanups.push(() => stop(redis));
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'outage:', commandTimeoutMs: 500, logger: silentLogger });
    await store.ready();
    const t: TestApp = await buildTestApp({ store, routes: (app) => probeRoutes(app, () => t) });
    cleanups.push(async () => {
      await t.close();
      await store.close();
    });

    expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/probe/store' })).statusCode).toBe(200);

    await stop(redis);
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks).toEqual({ database: 'ok', store: 'failed', crypto: 'ok', storage: 'unchecked' });
    const request = await t.app.inject({ url: '/api/v1/probe/store' });
    expect(request.statusCode).toBe(503);
    expect(request.json().error.code).toBe('service_unavailable');
    expect(request.body).not.toMatch(/ECONNREFUSED|ioredis|Stream/);

    redis = await startRedis(port);
    const recovered = await waitFor(async () => (await t.app.inject({ url: '/readyz' })).statusCode === 200, 15_000);
    expect(recovered).toBe(true);
    expect((await t.app.inject({ url: '/api/v1/probe/store' })).statusCode).toBe(200);
  });

  it('reports a store that never connected as not ready, without crashing', async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: '', commandTimeoutMs: 300, logger: silentLogger });
    await expect(store.ready(500)).rejects.toMatchObject({ code: 'service_unavailable' });
    const t: TestApp = await buildTestApp({ store, routes: (app) => probeRoutes(app, () => t) });
    cleanups.push(async () => {
      await t.close();
      await store.close();
    });
    expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await t.app.inject({ url: '/api/v1/probe/store' })).json().error.code).toBe('service_unavailable');
  });
});

// Only the PostgreSQL run has a database server to cut; PGlite lives in the process.
if (TEST_DATABASE_URL)
  describe('PostgreSQL outage', () => {
    it('turns readiness and queries to 503 and recovers when the database is reachable again', async () => {
      const target = new URL(await createPostgresDatabase(postgresDatabaseName('outage')));
      const proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
      await proxy.start();
      const viaProxy = new URL(target);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const database = openPostgres(viaProxy.toString(), { DB_POOL_MAX: 3, DB_STATEMENT_TIMEOUT_MS: 5_000, DB_IDLE_TIMEOUT_MS: 30_000, DB_CONNECT_TIMEOUT_MS: 500 }, silentLogger);
      const t: TestApp = await buildTestApp({ database, routes: (app) => probeRoutes(app, () => t) });
      cleanups.push(async () => {
        await t.close();
        await database.close();
        await proxy.cut();
      });

      expect((await t.app.inject({ url: '/api/v1/probe/db' })).statusCode).toBe(200);
      await proxy.cut();
      const ready = await t.app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks).toEqual({ database: 'failed', store: 'ok', crypto: 'ok', storage: 'unchecked' });
      const request = await t.app.inject({ url: '/api/v1/probe/db' });
      expect(request.statusCode).toBe(503);
      expect(request.json().error.code).toBe('service_unavailable');
      expect(request.body).not.toMatch(/ECONNREFUSED|Connection terminated|select/i);

      await proxy.start();
      const recovered = await waitFor(async () => (await t.app.inject({ url: '/api/v1/probe/db' })).statusCode === 200, 10_000);
      expect(recovered).toBe(true);
      expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    });
  });
