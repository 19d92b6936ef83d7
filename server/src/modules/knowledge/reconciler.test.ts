/**
 * Losing Redis loses the queue, not the documents. Uploads are accepted while nothing
 * consumes the queue; a real redis-server (on a spare port, no persistence) is killed
 * with SIGKILL and restarted empty, so every job is gone and the documents would stay
 * `processing` until some process restarted. The reconciler finds them and enqueues them
 * again; once a consumer runs, each ends `ready` exactly once. Two API copies racing
 * their passes enqueue each document once. On the in-process queue (embedded default)
 * jobs still held are left alone, and the periodic loop recovers a document whose
 * enqueue failed. The database is the harness's (PGlite, or PostgreSQL when DATABASE_URL is set).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { buildTestApp, freePort, LogCapture, silentLogger, testDatabase, TEST_RUN, waitFor, type TestApp, type TestAppOptions } from '../../../test/harness.js';
import { multipart } from '../../../test/uploads.js';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import { BullMqQueue } from '../../platform/queue/bullmq-queue.js';
import { MemoryQueue } from '../../platform/queue/memory-queue.js';
import type { JobQueue } from '../../platform/queue/queue.js';
import { RedisStore } from '../../platform/store/redis-store.js';
import type { Store } from '../../platform/store/store.js';
import { ChunkEmbeddings } from './embeddings.js';
import { createPipeline, createScanners } from './ingestion.js';
import { INGEST_JOB } from './pipeline.js';
import { IngestionReconciler, RECONCILE_TIMINGS } from './reconciler.js';

const REDIS_SERVER = TEST_RUN.redisServerBin;
const hasRedisServer = spawnSync(REDIS_SERVER, ['--version']).status === 0;

/** Real time moved forward on demand: documents get old enough for the reconciler without waiting its grace period. */
class ShiftedClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** Past the grace period of every document created so far. */
  passGrace(): void {
    this.offsetMs += RECONCILE_TIMINGS.graceMs + 1_000;
  }
}

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

/** A redis-server without persistence, as the issue's: a restart comes back empty. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new RedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: '', commandTimeoutMs: 500, logger: silentLogger });
  const up = await waitFor(async () => (await probe.ping(), true), 10_000, 20);
  await probe.close();
  if (!up) throw new Error('redis-server did not start');
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Documents long enough for several chunks each, all different (duplicates are refused). */
const documentText = (n: number) => `# Document ${n}\n\n` + Array.from({ length: 60 }, (_, j) => `Paragraph ${j} of document ${n} is about otter number ${n * 1000 + j} and the river it swims in.`).join('\n\n');

/** Uploads through `t` (an API copy that ingests nothing itself); returns the base and the document ids. */
async function upload(t: TestApp, count: number, from = 0): Promise<{ baseId: string; ids: string[]; upload: (n: number) => Promise<number> }> {
  const client = await apiUser(t);
  const baseId = (await client.post('/knowledge-bases', { name: `Otters ${randomUUID().slice(0, 6)}` })).json().id as string;
  const ids: string[] = [];
  const one = async (n: number) => {
    const { payload, headers } = multipart(`doc-${n}.md`, documentText(n), 'text/markdown');
    const response = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
    if (response.statusCode === 202) ids.push(response.json().id as string);
    return response.statusCode;
  };
  for (let n = from; n < from + count; n++) expect(await one(n)).toBe(202);
  return { baseId, ids, upload: one };
}

const statuses = async (database: Database, ids: string[]) => (await database.db.selectFrom('documents').select('status').where('id', 'in', ids).orderBy('created_at').execute()).map((d) => d.status);
const baseVersion = async (database: Database, baseId: string) => Number((await database.db.selectFrom('knowledge_bases').select('version').where('id', '=', baseId).executeTakeFirstOrThrow()).version);

/** Every document `ready`, once: one set of chunks with distinct positions, and one `ready` transition each (the base version moves once per document). */
async function expectIngestedOnce(database: Database, queue: JobQueue, baseId: string, ids: string[], versionBefore: number): Promise<void> {
  await expect.poll(() => statuses(database, ids), { timeout: 10_000, interval: 50 }).toEqual(ids.map(() => 'ready'));
  await new Promise((resolve) => setTimeout(resolve, 300)); // a second run would show now
  for (const id of ids) {
    const document = await database.db.selectFrom('documents').select(['chunk_count', 'status']).where('id', '=', id).executeTakeFirstOrThrow();
    const chunks = await database.db.selectFrom('chunks').select('position').where('document_id', '=', id).execute();
    expect(document.chunk_count).toBeGreaterThan(1);
    expect(chunks).toHaveLength(document.chunk_count);
    expect(new Set(chunks.map((c) => c.position)).size).toBe(chunks.length);
  }
  expect(await baseVersion(database, baseId)).toBe(versionBefore + ids.length);
  expect(await queue.counts(INGEST_JOB)).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
}

/** A pass gives its lock back by expiring it 1 ms later. */
const lockLapse = () => new Promise((resolve) => setTimeout(resolve, 5));

const API_ENV = { INGEST_IN_PROCESS: 'false', REQUIRE_MFA: 'none' };

// redis-server is on every CI machine; a developer machine without it skips this part.
describe.runIf(hasRedisServer || TEST_RUN.ci)('ingestion reconciler: Redis restarted empty', () => {
  let port = 0;
  let redis: ChildProcess | null = null;
  afterAll(async () => {
    if (redis) await kill(redis);
  });

  /** Redis (store and queue), the database, a clock, and `copies` API copies with their reconcilers that consume nothing. */
  async function setUp(copies: number, logs?: LogCapture) {
    port ||= await freePort();
    redis ??= await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const prefix = `bastion-test-${randomUUID().slice(0, 8)}:`;
    const store: Store = new RedisStore({ url, keyPrefix: prefix, commandTimeoutMs: 1_000, logger: silentLogger });
    await store.ready();
    cleanups.push(() => store.close());
    /** Each process has its own connections to the one queue. */
    const openQueue = () => {
      const queue = new BullMqQueue({ redisUrl: url, prefix: `${prefix}queue`, logger: silentLogger });
      cleanups.push(() => queue.close(100));
      return queue;
    };
    const queue = openQueue(); // the test's view of the queue
    const database = await testDatabase();
    const clock = new ShiftedClock();
    const shared: TestAppOptions = { database, store, clock, env: API_ENV };
    const apis: TestApp[] = [];
    for (let i = 0; i < copies; i++) {
      const t = await buildTestApp({ ...shared, queue: openQueue(), recoverIngestion: true, ...(i === 0 && logs ? { logs } : {}) });
      cleanups.push(() => t.close());
      apis.push(t);
    }
    /** Redis dies (SIGKILL) and comes back empty on the same port; the clients reconnect. */
    const loseRedis = async () => {
      await kill(redis!);
      redis = await startRedis(port);
      expect(await waitFor(async () => (await store.ping(), await queue.counts(INGEST_JOB), true), 10_000, 20)).toBe(true);
    };
    /** An ingesting process (an API copy with in-process ingestion, or a worker) on the same queue. */
    const startConsuming = async () => {
      const consumer = await buildTestApp({ ...shared, queue: openQueue(), env: { ...API_ENV, INGEST_IN_PROCESS: 'true' } });
      cleanups.push(() => consumer.close());
    };
    return { apis, queue, database, clock, loseRedis, startConsuming };
  }

  it('enqueues again the documents whose jobs Redis lost, and each ends ready exactly once', async () => {
    const logs = new LogCapture();
    const { apis, queue, database, clock, loseRedis, startConsuming } = await setUp(1, logs);
    const { baseId, ids } = await upload(apis[0]!, 10);
    const versionBefore = await baseVersion(database, baseId);
    expect(await queue.counts(INGEST_JOB)).toMatchObject({ waiting: 10 });

    await loseRedis();
    expect(await queue.counts(INGEST_JOB)).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
    // Inside their grace period the documents may still be on their way to the queue: left alone.
    expect(await apis[0]!.app.knowledge.reconciler!.pass()).toBe(0);
    await lockLapse();
    clock.passGrace();
    // Stranded: nothing in the queue will ever move them.
    expect(await statuses(database, ids)).toEqual(ids.map(() => 'processing'));
    expect(await Promise.all(ids.map((id) => queue.isPending(INGEST_JOB, id)))).toEqual(ids.map(() => false));

    expect(await apis[0]!.app.knowledge.reconciler!.pass()).toBe(10);
    expect(await queue.counts(INGEST_JOB)).toMatchObject({ waiting: 10 });
    const warning = logs.records().find((r) => typeof r.msg === 'string' && r.msg.includes('ingestion job was missing'));
    expect(warning).toMatchObject({ level: 40, requeued: 10 });
    await lockLapse();
    expect(await apis[0]!.app.knowledge.reconciler!.pass()).toBe(0); // their jobs are pending now

    await startConsuming();
    await expectIngestedOnce(database, queue, baseId, ids, versionBefore);
  });

  it('two API copies racing their passes enqueue each document once', async () => {
    const { apis, queue, database, clock, loseRedis, startConsuming } = await setUp(2);
    const { baseId, ids } = await upload(apis[0]!, 10);
    const versionBefore = await baseVersion(database, baseId);
    await loseRedis();
    clock.passGrace();

    const [first, second] = apis.map((t) => t.app.knowledge.reconciler!);
    const passes = await Promise.all([first!.pass(), second!.pass(), first!.pass(), second!.pass()]);
    // One pass holds the lock and enqueues all ten; the others find it taken (null).
    expect(passes.filter((p) => p !== null)).toEqual([10]);
    expect(await queue.counts(INGEST_JOB)).toMatchObject({ waiting: 10 });
    // Once the lock is free, further passes find every job pending: nothing is enqueued twice.
    await lockLapse();
    expect(await first!.pass()).toBe(0);
    await lockLapse();
    expect(await second!.pass()).toBe(0);
    expect(await queue.counts(INGEST_JOB)).toMatchObject({ waiting: 10 });

    await startConsuming();
    await expectIngestedOnce(database, queue, baseId, ids, versionBefore);
  });
});

describe('ingestion reconciler: the in-process queue', () => {
  it('leaves held jobs alone and, every interval, enqueues a document whose enqueue failed', async () => {
    // Room for two jobs: the third upload commits its document, then its enqueue is refused.
    const queue = new MemoryQueue({ maxJobs: 2 });
    cleanups.push(() => queue.close(100));
    const database = await testDatabase();
    const clock = new ShiftedClock();
    const api = await buildTestApp({ database, queue, clock, recoverIngestion: true, env: API_ENV });
    cleanups.push(() => api.close());
    const { baseId, ids, upload: uploadOne } = await upload(api, 2);
    const versionBefore = await baseVersion(database, baseId);
    clock.passGrace();
    expect(await api.app.knowledge.reconciler!.pass()).toBe(0); // both jobs are waiting: not missing

    expect(await uploadOne(2)).toBeGreaterThanOrEqual(500);
    const stranded = (await database.db.selectFrom('documents').select('id').where('knowledge_base_id', '=', baseId).where('id', 'not in', ids).executeTakeFirstOrThrow()).id;
    // An ingestion worker in this process (the in-process queue is this process's alone), built as `bastion worker` builds it.
    const pipeline = createPipeline({
      config: api.config,
      db: database.db,
      encryptor: api.encryptor,
      clock,
      logger: silentLogger,
      queue,
      scanners: createScanners(api.config, silentLogger),
      embeddings: new ChunkEmbeddings(database.db, api.app.providers.resolver),
      securityEvents: api.app.core.securityEvents,
    });
    pipeline.start(2);
    await expect.poll(() => statuses(database, ids), { timeout: 10_000, interval: 50 }).toEqual(['ready', 'ready']);
    expect(await statuses(database, [stranded])).toEqual(['processing']);
    await expect.poll(() => queue.counts(INGEST_JOB), { timeout: 5_000, interval: 20 }).toMatchObject({ waiting: 0, active: 0 }); // room again

    clock.passGrace();
    // The periodic loop, as `bastion worker` runs it beside its pipeline, at a test's pace.
    const reconciler = new IngestionReconciler({ db: database.db, queue, store: api.store, clock, logger: silentLogger, pipeline, timings: { ...RECONCILE_TIMINGS, intervalMs: 50 } });
    reconciler.start();
    cleanups.push(() => reconciler.stop());
    await expectIngestedOnce(database, queue, baseId, [...ids, stranded], versionBefore + 1); // + the third document's insert
  });
});
