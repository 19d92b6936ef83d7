/**
 * `bastion worker` in its own process, on PostgreSQL and Redis (BullMQ): the API only
 * accepts documents (INGEST_IN_PROCESS=false), the worker ingests them, and documents
 * accepted while no worker runs are ingested when one starts. On the embedded defaults
 * there is no shared queue, and the worker refuses to start (test/process.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { buildTestApp, createPostgresDatabase, postgresDatabaseName, silentLogger, tempDir, testConfig, testMasterKeys, TEST_DATABASE_URL, TEST_REDIS_URL, TEST_RUN, type TestApp } from '../../../test/harness.js';
import { multipart, pdfDocument } from '../../../test/uploads.js';
import { formatMasterKeys } from '../../platform/crypto/master-keys.js';
import { openDatabase, type Database } from '../../platform/db/database.js';
import { migrate } from '../../platform/db/migrator.js';
import { openQueue } from '../../platform/queue/open-queue.js';
import type { JobQueue } from '../../platform/queue/queue.js';

const SERVER_DIR = fileURLToPath(new URL('../../..', import.meta.url));
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

/** The real backends when this run has them (the PostgreSQL + Redis pass of CI). */
const backends = TEST_DATABASE_URL && TEST_REDIS_URL ? { redisUrl: TEST_REDIS_URL } : null;

describe('bastion worker', () => {
  // Registered only on the PostgreSQL + Redis pass, like the Redis implementations of the contract tests.
  if (!backends) {
    it('has no shared queue on the embedded defaults: the API ingests in-process', () => {
      expect(openQueue(undefined).kind).toBe('memory');
    });
    return;
  }
  /** A database, an API that only accepts (INGEST_IN_PROCESS=false), and a way to start `bastion worker` processes. */
  async function setUp(name: string, workerEnv: Record<string, string> = {}) {
    const databaseUrl = await createPostgresDatabase(postgresDatabaseName(name));
    const database: Database = await openDatabase(testConfig({ DATABASE_URL: databaseUrl }), silentLogger);
    cleanup.push(() => database.close());
    await migrate(database.db);
    const prefix = `bastion-test-${randomUUID().slice(0, 8)}:`;
    const queue: JobQueue = openQueue(backends!.redisUrl, { prefix: `${prefix}queue` });
    const t: TestApp = await buildTestApp({ database, queue, env: { INGEST_IN_PROCESS: 'false', REDIS_KEY_PREFIX: prefix, REQUIRE_MFA: 'none' } });
    cleanup.push(
      () => queue.close(),
      () => t.close(),
    );
    const client = await apiUser(t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Worked' })).json().id;
    const upload = async (name: string, text: string, type = 'text/markdown') => {
      const { payload, headers } = multipart(name, text, type);
      const response = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
      expect(response.statusCode, response.body).toBe(202);
      return response.json().id as string;
    };
    const status = async (id: string) => (await client.get(`/knowledge-bases/${baseId}/documents/${id}`)).json().status as string;
    const dataDir = await tempDir('worker');
    const startWorker = (): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/entry.ts', 'worker'], {
        cwd: SERVER_DIR,
        env: { PATH: TEST_RUN.path, DATABASE_URL: databaseUrl, REDIS_URL: backends!.redisUrl, REDIS_KEY_PREFIX: prefix, MASTER_KEYS: formatMasterKeys(testMasterKeys), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...workerEnv },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      cleanup.push(async () => child.exitCode === null && child.kill('SIGKILL'));
      return child;
    };
    return { t, queue, database, client, baseId, upload, status, startWorker };
  }

  it('ingests in its own process what the API accepted, including documents accepted while it was down', async () => {
    const { client, baseId, upload, status, startWorker } = await setUp('workerproc');
    const early = await upload('early.md', '# Early\n\nAccepted while no worker runs: about narwhals.');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await status(early)).toBe('processing'); // the API itself ingests nothing

    const worker = startWorker();
    await expect.poll(() => status(early), { timeout: 30_000, interval: 200 }).toBe('ready');
    const late = await upload('late.md', '# Late\n\nAccepted while the worker runs: about walruses.');
    await expect.poll(() => status(late), { timeout: 30_000, interval: 200 }).toBe('ready');

    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    const hits = (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'narwhals walruses' })).json().results;
    expect(hits).toHaveLength(2);
  }, 90_000);

  it('finishes a document exactly once after its worker is killed in the middle of it', async () => {
    // A 4,000-page PDF takes seconds to parse: the worker is killed while it does.
    const { queue, database, upload, status, startWorker } = await setUp('workerkill', { QUEUE_LOCK_MS: '1000', PDF_TIMEOUT_MS: '120000' });
    const pages = Array.from({ length: 4_000 }, (_, i) => `Page ${i} of the tide tables for the harbour of Narvik`);
    const id = await upload('tides.pdf', pdfDocument(pages), 'application/pdf');
    const first = startWorker();
    await expect.poll(async () => (await queue.counts('ingest')).active, { timeout: 30_000, interval: 50 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500)); // inside the parse
    const killed = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await killed;
    expect(await status(id)).toBe('processing');
    expect(await database.db.selectFrom('chunks').select('id').where('document_id', '=', id).execute()).toEqual([]);

    startWorker(); // its stalled-job check takes the dead worker's job back after the lock expires
    await expect.poll(() => status(id), { timeout: 60_000, interval: 200 }).toBe('ready');
    const document = await database.db.selectFrom('documents').select(['chunk_count']).where('id', '=', id).executeTakeFirstOrThrow();
    const chunks = await database.db.selectFrom('chunks').select(['position']).where('document_id', '=', id).execute();
    expect(document.chunk_count).toBeGreaterThan(10);
    expect(chunks).toHaveLength(document.chunk_count); // one set of chunks, not two
    expect(new Set(chunks.map((c) => c.position)).size).toBe(chunks.length);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // a second, wrong run would show now
    expect(await database.db.selectFrom('chunks').select('id').where('document_id', '=', id).execute()).toHaveLength(document.chunk_count);
    expect(await queue.counts('ingest')).toMatchObject({ active: 0, waiting: 0, failed: 0 });
  }, 120_000);
});
