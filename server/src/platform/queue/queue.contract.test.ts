/**
 * The JobQueue contract, run against every implementation available: the in-process
 * queue always, BullMQ when REDIS_URL is set (CI runs both). BullMQ alone is also
 * checked for what only a shared, durable queue can do: a job interrupted by close()
 * is handed back, and a job held by a killed worker process is recovered exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tempDir, TEST_REDIS_URL, TEST_RUN } from '../../../test/harness.js';
import { BullMqQueue } from './bullmq-queue.js';
import { MemoryQueue } from './memory-queue.js';
import { openQueue } from './open-queue.js';
import { QueueClosedError, type FailureEvent, type Job, type JobQueue } from './queue.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; fails the test with `what` after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const idle = { waiting: 0, active: 0, delayed: 0, failed: 0 };
const isIdle = async (queue: JobQueue, name: string) => {
  const counts = await queue.counts(name);
  return counts.waiting === 0 && counts.active === 0 && counts.delayed === 0;
};

interface Subject {
  name: string;
  make(): JobQueue;
}

const uniquePrefix = () => `bastion-test-queue:${process.pid}:${Math.random().toString(36).slice(2)}`;
const prefixes: string[] = [];
const redisUrl = TEST_REDIS_URL;

/** Crash-test timing: a dead worker's lock expires after 1 s, live workers look every 0.5 s. */
const FAST_RECOVERY = { lockDurationMs: 1_000, stalledIntervalMs: 500 };

function bullMq(prefix: string): BullMqQueue {
  if (!redisUrl) throw new Error('REDIS_URL is not set');
  return new BullMqQueue({ redisUrl, prefix, ...FAST_RECOVERY });
}

const subjects: Subject[] = [{ name: 'memory', make: () => new MemoryQueue() }];
if (redisUrl) {
  subjects.push({
    name: 'bullmq',
    make: () => {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      return bullMq(prefix);
    },
  });
}

afterAll(async () => {
  if (!redisUrl || prefixes.length === 0) return;
  const client = new Redis(redisUrl);
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
});

describe.each(subjects)('JobQueue contract: $name', (subject) => {
  let queues: JobQueue[] = [];
  const make = () => {
    const queue = subject.make();
    queues.push(queue);
    return queue;
  };
  afterEach(async () => {
    await Promise.all(queues.map((queue) => queue.close(100)));
    queues = [];
  });

  it('runs a job once with its id, name, data and attempt, and keeps nothing after success', async () => {
    const queue = make();
    expect(queue.kind).toBe(subject.name);
    const seen: Job<{ n: number }>[] = [];
    await queue.add('ingest', { n: 1 }, { jobId: 'doc-1' });
    expect(await queue.counts('ingest')).toEqual({ ...idle, waiting: 1 });
    queue.process<{ n: number }>(
      'ingest',
      async (job, signal) => {
        expect(signal.aborted).toBe(false);
        seen.push(job);
      },
      { concurrency: 1 },
    );
    await until(() => seen.length === 1, 'the job to run');
    await until(() => isIdle(queue, 'ingest'), 'the queue to drain');
    expect(seen[0]).toEqual({ id: 'doc-1', name: 'ingest', data: { n: 1 }, attempt: 1 });
    expect(await queue.counts('ingest')).toEqual(idle);
    expect(await queue.deadLetters('ingest')).toEqual([]);
    expect(await queue.counts('never-used')).toEqual(idle);
  });

  it('ignores an id that is already waiting or delayed', async () => {
    const queue = make();
    await queue.add('ingest', { version: 1 }, { jobId: 'doc-1' });
    await queue.add('ingest', { version: 2 }, { jobId: 'doc-1' });
    await queue.add('ingest', { version: 1 }, { jobId: 'doc-2', delayMs: 60_000 });
    await queue.add('ingest', { version: 2 }, { jobId: 'doc-2' });
    expect(await queue.counts('ingest')).toEqual({ ...idle, waiting: 1, delayed: 1 });
    const runs: Array<{ id: string; data: object }> = [];
    queue.process('ingest', async (job) => void runs.push({ id: job.id, data: job.data }), { concurrency: 2 });
    await until(() => runs.length === 1, 'the waiting job to run');
    await sleep(200);
    expect(runs).toEqual([{ id: 'doc-1', data: { version: 1 } }]);
    expect(await queue.counts('ingest')).toEqual({ ...idle, delayed: 1 });
  });

  it('ignores an id that is running', async () => {
    const queue = make();
    const release = gate();
    const runs: object[] = [];
    queue.process(
      'ingest',
      async (job) => {
        runs.push(job.data);
        await release.opened;
      },
      { concurrency: 2 },
    );
    await queue.add('ingest', { version: 1 }, { jobId: 'doc-1' });
    await until(() => runs.length === 1, 'the job to start');
    await queue.add('ingest', { version: 2 }, { jobId: 'doc-1' });
    expect(await queue.counts('ingest')).toEqual({ ...idle, active: 1 });
    release.open();
    await until(() => isIdle(queue, 'ingest'), 'the job to finish');
    await sleep(200);
    expect(runs).toEqual([{ version: 1 }]);
  });

  it('tells whether a job will still run: waiting, delayed or active, not finished or unknown', async () => {
    const queue = make();
    expect(await queue.isPending('ingest', 'doc-1')).toBe(false);
    await queue.add('ingest', {}, { jobId: 'doc-1' });
    await queue.add('ingest', {}, { jobId: 'doc-2', delayMs: 60_000 });
    await queue.add('ingest', {}, { jobId: 'doc-3', attempts: 1 });
    expect([await queue.isPending('ingest', 'doc-1'), await queue.isPending('ingest', 'doc-2'), await queue.isPending('ingest', 'doc-3')]).toEqual([true, true, true]);
    expect(await queue.isPending('other', 'doc-1')).toBe(false);
    const release = gate();
    const started: string[] = [];
    queue.process(
      'ingest',
      async (job) => {
        started.push(job.id);
        if (job.id === 'doc-3') throw new Error('bad document');
        await release.opened;
      },
      { concurrency: 2 },
    );
    await until(() => started.includes('doc-1'), 'doc-1 to start');
    expect(await queue.isPending('ingest', 'doc-1')).toBe(true); // active
    await until(async () => (await queue.deadLetters('ingest')).length === 1, 'doc-3 to be dead-lettered');
    expect(await queue.isPending('ingest', 'doc-3')).toBe(false);
    release.open();
    await until(async () => !(await queue.isPending('ingest', 'doc-1')), 'doc-1 to complete');
    expect(await queue.isPending('ingest', 'doc-2')).toBe(true);
  });

  it('runs an id again when it is added after completing', async () => {
    const queue = make();
    const runs: object[] = [];
    queue.process('ingest', async (job) => void runs.push(job.data), { concurrency: 1 });
    await queue.add('ingest', { version: 1 }, { jobId: 'doc-1' });
    await until(async () => runs.length === 1 && (await isIdle(queue, 'ingest')), 'the first run to complete');
    await queue.add('ingest', { version: 2 }, { jobId: 'doc-1' });
    await until(async () => runs.length === 2 && (await isIdle(queue, 'ingest')), 'the second run to complete');
    expect(runs).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('retries a failing job with exponential, jittered backoff until it succeeds', async () => {
    const queue = make();
    const failures: FailureEvent<object>[] = [];
    queue.onFailure((event) => failures.push(event));
    const starts: Array<{ attempt: number; at: number }> = [];
    queue.process(
      'ingest',
      async (job) => {
        starts.push({ attempt: job.attempt, at: Date.now() });
        if (job.attempt < 3) throw new Error(`transient ${job.attempt}`);
      },
      { concurrency: 1 },
    );
    await queue.add('ingest', { n: 1 }, { jobId: 'doc-1', attempts: 5, backoffMs: 80 });
    await until(async () => starts.length === 3 && (await isIdle(queue, 'ingest')), 'the third attempt to succeed');
    expect(starts.map((s) => s.attempt)).toEqual([1, 2, 3]);
    // Retry n waits between half and all of 80·2^(n-1) ms.
    expect(starts[1]!.at - starts[0]!.at).toBeGreaterThanOrEqual(40 - 5);
    expect(starts[2]!.at - starts[1]!.at).toBeGreaterThanOrEqual(80 - 5);
    expect(failures.map((f) => [f.job.id, f.job.attempt, f.error.message, f.final])).toEqual([
      ['doc-1', 1, 'transient 1', false],
      ['doc-1', 2, 'transient 2', false],
    ]);
    expect(failures[0]!.error).toBeInstanceOf(Error);
    expect(failures[0]!.job.data).toEqual({ n: 1 });
    expect(await queue.counts('ingest')).toEqual(idle);
  });

  it('dead-letters a job once its attempts are used up, with the last error', async () => {
    const queue = make();
    const failures: FailureEvent<object>[] = [];
    queue.onFailure((event) => failures.push(event));
    queue.process(
      'ingest',
      async (job) => {
        throw new Error(`boom ${job.attempt}`);
      },
      { concurrency: 1 },
    );
    await queue.add('ingest', { documentId: 'd1' }, { jobId: 'doc-1', attempts: 3, backoffMs: 10 });
    await until(() => failures.some((f) => f.final), 'the final failure');
    expect(failures.map((f) => [f.job.attempt, f.error.message, f.final])).toEqual([
      [1, 'boom 1', false],
      [2, 'boom 2', false],
      [3, 'boom 3', true],
    ]);
    await until(async () => (await queue.counts('ingest')).failed === 1, 'the dead letter');
    expect(await queue.counts('ingest')).toEqual({ ...idle, failed: 1 });
    expect(await queue.deadLetters('ingest')).toEqual([{ id: 'doc-1', data: { documentId: 'd1' }, error: 'boom 3', attempts: 3 }]);
  });

  it('runs a dead-lettered id anew when it is added again, and drops its dead letter', async () => {
    const queue = make();
    const runs: Array<{ attempt: number; data: object }> = [];
    queue.process<{ fail: boolean }>(
      'ingest',
      async (job) => {
        runs.push({ attempt: job.attempt, data: job.data });
        if (job.data.fail) throw new Error('bad');
      },
      { concurrency: 1 },
    );
    await queue.add('ingest', { fail: true }, { jobId: 'doc-1', attempts: 1 });
    await until(async () => (await queue.counts('ingest')).failed === 1, 'the dead letter');
    await queue.add('ingest', { fail: false }, { jobId: 'doc-1', attempts: 1 });
    await until(async () => runs.length === 2 && (await isIdle(queue, 'ingest')), 'the second run');
    expect(runs).toEqual([
      { attempt: 1, data: { fail: true } },
      { attempt: 1, data: { fail: false } },
    ]);
    expect(await queue.counts('ingest')).toEqual(idle);
    expect(await queue.deadLetters('ingest')).toEqual([]);
  });

  it('lists dead letters newest first, up to the limit, and turns non-Error throws into Errors', async () => {
    const queue = make();
    const finals: FailureEvent<object>[] = [];
    queue.onFailure((event) => {
      if (event.final) finals.push(event);
    });
    queue.process(
      'ingest',
      async (job) => {
        throw `plain ${job.id}`; // a string, on purpose
      },
      { concurrency: 1 },
    );
    for (const id of ['doc-a', 'doc-b', 'doc-c']) {
      await queue.add('ingest', { id }, { jobId: id, attempts: 1 });
      await until(() => finals.some((f) => f.job.id === id), `${id} to fail`);
      await sleep(5); // distinct finish times
    }
    expect(finals[0]!.error).toBeInstanceOf(Error);
    expect(finals[0]!.error.message).toBe('plain doc-a');
    await until(async () => (await queue.counts('ingest')).failed === 3, 'three dead letters');
    expect((await queue.deadLetters('ingest', 2)).map((d) => [d.id, d.error, d.attempts])).toEqual([
      ['doc-c', 'plain doc-c', 1],
      ['doc-b', 'plain doc-b', 1],
    ]);
    expect((await queue.deadLetters('ingest')).map((d) => d.id)).toEqual(['doc-c', 'doc-b', 'doc-a']);
  });

  it('runs at most `concurrency` jobs at once', async () => {
    const queue = make();
    let inFlight = 0;
    let peak = 0;
    let done = 0;
    for (let i = 0; i < 9; i++) await queue.add('ingest', { i }, { jobId: `doc-${i}` });
    queue.process(
      'ingest',
      async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await sleep(60);
        inFlight -= 1;
        done += 1;
      },
      { concurrency: 3 },
    );
    await until(() => done === 9, 'all jobs to run');
    expect(peak).toBe(3);
    await until(() => isIdle(queue, 'ingest'), 'the queue to drain');
  });

  it('keeps queue names apart', async () => {
    const queue = make();
    const seen: string[] = [];
    queue.process('scan', async (job) => void seen.push(`scan:${job.id}`), { concurrency: 1 });
    await queue.add('scan', {}, { jobId: 'doc-1' });
    await queue.add('index', {}, { jobId: 'doc-1' });
    await until(() => seen.length === 1, 'the scan job');
    await sleep(100);
    expect(seen).toEqual(['scan:doc-1']);
    expect(await queue.counts('index')).toEqual({ ...idle, waiting: 1 });
    expect(() => queue.process('scan', async () => {}, { concurrency: 1 })).toThrow(/already/);
  });

  it('holds a delayed job until its delay has passed', async () => {
    const queue = make();
    const started = Date.now();
    let ranAt = 0;
    await queue.add('ingest', {}, { jobId: 'doc-1', delayMs: 400 });
    expect(await queue.counts('ingest')).toEqual({ ...idle, delayed: 1 });
    queue.process('ingest', async () => void (ranAt = Date.now()), { concurrency: 1 });
    await sleep(150);
    expect(ranAt).toBe(0);
    await until(() => ranAt > 0, 'the delayed job');
    expect(ranAt - started).toBeGreaterThanOrEqual(390);
  });

  it('close waits for running handlers to finish without aborting them', async () => {
    const queue = make();
    const failures: FailureEvent<object>[] = [];
    queue.onFailure((event) => failures.push(event));
    let aborted: boolean | null = null;
    let finished = false;
    queue.process(
      'ingest',
      async (_job, signal) => {
        await sleep(300);
        aborted = signal.aborted;
        finished = true;
      },
      { concurrency: 1 },
    );
    await queue.add('ingest', {}, { jobId: 'doc-1' });
    await until(async () => (await queue.counts('ingest')).active === 1, 'the job to start');
    await queue.close(5_000);
    expect(finished).toBe(true);
    expect(aborted).toBe(false);
    expect(failures).toEqual([]);
  });

  it('close aborts running handlers after the grace period, waits for them, and then refuses work', async () => {
    const queue = make();
    const failures: FailureEvent<object>[] = [];
    queue.onFailure((event) => failures.push(event));
    let started = 0;
    let ended = 0;
    queue.process(
      'ingest',
      async (_job, signal) => {
        started += 1;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await sleep(100); // cleaning up after the abort
        ended += 1;
        throw signal.reason;
      },
      { concurrency: 2 },
    );
    await queue.add('ingest', {}, { jobId: 'doc-1' });
    await queue.add('ingest', {}, { jobId: 'doc-2' });
    await until(() => started === 2, 'both jobs to start');
    const closing = Date.now();
    await queue.close(200);
    expect(Date.now() - closing).toBeGreaterThanOrEqual(290);
    expect(ended).toBe(2);
    expect(failures).toEqual([]); // interrupted by close: not a failure
    await expect(queue.add('ingest', {}, { jobId: 'doc-3' })).rejects.toBeInstanceOf(QueueClosedError);
    expect(() => queue.process('other', async () => {}, { concurrency: 1 })).toThrow(QueueClosedError);
    await queue.close(); // idempotent
  });

  it('rejects invalid job ids, names and options', async () => {
    const queue = make();
    for (const jobId of ['', 'a:b', '42']) {
      await expect(queue.add('ingest', {}, { jobId })).rejects.toThrow(/job id/);
    }
    await expect(queue.add('in:gest', {}, { jobId: 'doc-1' })).rejects.toThrow(/queue name/);
    await expect(queue.add('ingest', {}, { jobId: 'doc-1', attempts: 0 })).rejects.toThrow(/attempts/);
    expect(() => queue.process('ingest', async () => {}, { concurrency: 0 })).toThrow(/concurrency/);
    expect(await queue.counts('ingest')).toEqual(idle);
  });
});

describe('openQueue', () => {
  it('is the in-process queue without a Redis URL', async () => {
    const queue = openQueue(undefined);
    expect(queue.kind).toBe('memory');
    await queue.close();
  });

  if (redisUrl) {
    it('is BullMQ with a Redis URL', async () => {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      const queue = openQueue(redisUrl, { prefix });
      expect(queue.kind).toBe('bullmq');
      expect(await queue.counts('ingest')).toEqual(idle);
      await queue.close();
    });
  }
});

if (redisUrl) {
  describe('BullMqQueue: shared and durable', () => {
    const redis = new Redis(redisUrl);
    const children: ChildProcess[] = [];
    let queues: BullMqQueue[] = [];
    const make = (prefix: string) => {
      const queue = bullMq(prefix);
      queues.push(queue);
      return queue;
    };
    const newPrefix = () => {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      return prefix;
    };
    afterEach(async () => {
      await Promise.all(queues.map((queue) => queue.close(100)));
      queues = [];
    });
    afterAll(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      redis.disconnect();
    });

    it('keeps the last completed jobs, yet a completed id added again runs again', async () => {
      const prefix = newPrefix();
      const queue = make(prefix);
      let runs = 0;
      queue.process('ingest', async () => void (runs += 1), { concurrency: 1 });
      await queue.add('ingest', {}, { jobId: 'doc-1' });
      await until(async () => runs === 1 && (await redis.zcard(`${prefix}:ingest:completed`)) === 1, 'the completed job');
      await queue.add('ingest', {}, { jobId: 'doc-1' });
      await until(() => runs === 2, 'the second run');
    });

    it('hands a job interrupted by close back to the waiting list with no attempt counted', async () => {
      const prefix = newPrefix();
      const first = make(prefix);
      let started = false;
      first.process(
        'ingest',
        async (_job, signal) => {
          started = true;
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          throw new Error('interrupted');
        },
        { concurrency: 1 },
      );
      await first.add('ingest', { n: 1 }, { jobId: 'doc-1', attempts: 1 });
      await until(() => started, 'the job to start');
      await first.close(50);

      const second = make(prefix);
      expect(await second.counts('ingest')).toEqual({ ...idle, waiting: 1 });
      const seen: Job<object>[] = [];
      second.process('ingest', async (job) => void seen.push(job), { concurrency: 1 });
      await until(() => seen.length === 1, 'another worker to take the job');
      expect(seen[0]).toEqual({ id: 'doc-1', name: 'ingest', data: { n: 1 }, attempt: 1 });
      await until(() => isIdle(second, 'ingest'), 'the job to complete');
      expect(await second.counts('ingest')).toEqual(idle);
    });

    it('recovers a job from a worker process killed with SIGKILL and runs it exactly once more', async () => {
      const prefix = newPrefix();
      const dir = await tempDir('queue-crash');
      const log = path.join(dir, 'runs.log');
      await writeFile(log, '');
      const runs = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean);

      const queue = make(prefix);
      const failures: FailureEvent<object>[] = [];
      queue.onFailure((event) => failures.push(event));
      await queue.add('ingest', { documentId: 'd1' }, { jobId: 'doc-1', attempts: 1 });

      // A worker in another process takes the job and hangs until it is killed.
      const moduleUrl = pathToFileURL(fileURLToPath(new URL('./bullmq-queue.ts', import.meta.url))).href;
      const script = `
        import { appendFileSync } from 'node:fs';
        const [moduleUrl, redisUrl, prefix, log] = process.argv.slice(1);
        const { BullMqQueue } = await import(moduleUrl);
        const queue = new BullMqQueue({ redisUrl, prefix, lockDurationMs: ${FAST_RECOVERY.lockDurationMs}, stalledIntervalMs: ${FAST_RECOVERY.stalledIntervalMs} });
        queue.process('ingest', async (job) => {
          appendFileSync(log, 'child ' + job.id + ' ' + job.attempt + '\\n');
          await new Promise(() => {});
        }, { concurrency: 1 });`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, moduleUrl, redisUrl!, prefix, log], {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
        env: { PATH: TEST_RUN.path },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await until(async () => (await runs()).length === 1 || child.exitCode !== null, 'the child to take the job', 30_000);
      expect(await runs(), stderr).toEqual(['child doc-1 1']);
      expect(await queue.counts('ingest')).toEqual({ ...idle, active: 1 });

      child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();

      // A live worker notices the expired lock and runs the job again, once.
      queue.process(
        'ingest',
        async (job) => {
          await writeFile(log, `parent ${job.id} ${job.attempt}\n`, { flag: 'a' });
        },
        { concurrency: 1 },
      );
      await until(async () => (await runs()).length === 2, 'the job to be recovered', 15_000);
      const recoveredIn = Date.now() - killedAt;
      await until(() => isIdle(queue, 'ingest'), 'the recovered job to complete');
      await sleep(3 * FAST_RECOVERY.stalledIntervalMs); // a second, wrong recovery would show here
      expect(await runs()).toEqual(['child doc-1 1', 'parent doc-1 1']);
      expect(await queue.counts('ingest')).toEqual(idle);
      expect(failures).toEqual([]);
      expect(recoveredIn).toBeLessThan(FAST_RECOVERY.lockDurationMs + 4 * FAST_RECOVERY.stalledIntervalMs + 1_000);
    }, 60_000);
  });
}
