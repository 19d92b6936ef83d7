/**
 * BullMQ job queue on Redis: jobs survive restarts and are shared by every process
 * (API instances and `bastion worker`s). One BullMQ Queue and at most one Worker per
 * queue name in this process; two connections made from the URL, one for producing
 * and reading, one (with `maxRetriesPerRequest: null`, as BullMQ requires) shared by
 * the workers, each of which duplicates it for its blocking fetch.
 *
 * Contract details (see queue.ts):
 * - Idempotency: BullMQ ignores an add whose job id exists in any state, including a
 *   finished job it still keeps (the last COMPLETED_KEPT completed, DEAD_LETTERS_KEPT
 *   failed). So `add` first removes a completed or failed job with that id, then adds:
 *   re-adding after completion runs the job again, exactly like the in-process queue.
 * - Crash recovery: a worker holds a lock on each active job, renewed every
 *   lockDuration/2. If the process dies the lock expires after `lockDurationMs`; the
 *   stalled-job checker of any live worker (every `stalledIntervalMs`) then moves the
 *   job back to waiting, so it runs again within about lockDuration + 2·stalledInterval.
 *   A job that stalls more than `maxStalledCount` times is dead-lettered (without a
 *   failure event in this process: BullMQ reports it only through QueueEvents).
 *   An event loop blocked longer than the lock duration also looks like a crash and
 *   the job runs twice, hence handlers must be idempotent (the pipeline's are).
 * - close(): the workers stop fetching; after `graceMs` the signals of running handlers
 *   are aborted; a handler that then throws has its job moved back to waiting with no
 *   attempt counted (another process, or this one after a restart, picks it up).
 */
import { Queue, WaitingError, Worker, type Job as BullJob, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  assertConcurrency,
  assertQueueName,
  clampLimit,
  COMPLETED_KEPT,
  DEAD_LETTERS_KEPT,
  BACKOFF_JITTER,
  DEFAULT_GRACE_MS,
  QueueClosedError,
  resolveJobOptions,
  toError,
  type DeadLetter,
  type FailureEvent,
  type JobCounts,
  type JobHandler,
  type JobOptions,
  type JobQueue,
} from './queue.js';

export interface BullMqQueueOptions {
  redisUrl: string;
  /** Key prefix of every BullMQ key (`<prefix>:<name>:…`); default `bastion:queue`. */
  prefix?: string;
  /** How long a worker's lock on a job lasts without renewal; default 30 s (BullMQ's). */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired; default 30 s (BullMQ's). */
  stalledIntervalMs?: number;
  /** Times a job may be recovered from a crashed worker before it is dead-lettered; default 2. */
  maxStalledCount?: number;
  /** Connection and worker errors go here (rate-limited); default: dropped. */
  logger?: Logger;
}

export const DEFAULT_QUEUE_PREFIX = 'bastion:queue';

type AnyJob = BullJob<object, unknown, string>;

export class BullMqQueue implements JobQueue {
  readonly kind = 'bullmq';
  private readonly options: Required<Omit<BullMqQueueOptions, 'logger'>> & { logger?: Logger };
  private readonly connection: Redis;
  private workerConnection: Redis | null = null;
  private readonly queues = new Map<string, Queue<object, unknown, string>>();
  private readonly workers = new Map<string, Worker<object, unknown, string>>();
  private readonly listeners: Array<(event: FailureEvent<object>) => void> = [];
  private readonly running = new Set<AbortController>();
  private closing: Promise<void> | null = null;
  private aborting = false;
  private lastErrorLog = 0;

  constructor(options: BullMqQueueOptions) {
    this.options = {
      redisUrl: options.redisUrl,
      prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
      lockDurationMs: options.lockDurationMs ?? 30_000,
      stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 2,
      logger: options.logger,
    };
    this.connection = this.connect('bastion-queue');
  }

  async add<T extends object>(name: string, data: T, options: JobOptions): Promise<void> {
    assertQueueName(name);
    const resolved = resolveJobOptions(options);
    if (this.closing) throw new QueueClosedError();
    const queue = this.queue(name);
    const state = await queue.getJobState(resolved.jobId);
    if (state === 'completed' || state === 'failed') {
      // Frees the id. Returns 0 when another process has meanwhile re-added it and a
      // worker holds it: then the add below is a no-op, which is what we want.
      await queue.remove(resolved.jobId);
    } else if (state !== 'unknown') {
      return; // waiting, delayed, active…: already pending
    }
    const jobOptions: JobsOptions = {
      jobId: resolved.jobId,
      attempts: resolved.attempts,
      backoff: { type: 'exponential', delay: resolved.backoffMs, jitter: BACKOFF_JITTER },
      removeOnComplete: { count: COMPLETED_KEPT },
      removeOnFail: { count: DEAD_LETTERS_KEPT },
    };
    if (resolved.delayMs > 0) jobOptions.delay = resolved.delayMs;
    await queue.add(name, data, jobOptions);
  }

  process<T extends object>(name: string, handler: JobHandler<T>, options: { concurrency: number }): void {
    assertQueueName(name);
    assertConcurrency(options.concurrency);
    if (this.closing) throw new QueueClosedError();
    if (this.workers.has(name)) throw new Error(`Queue ${name} is already being processed`);
    this.workerConnection ??= this.connect('bastion-queue-worker', { maxRetriesPerRequest: null });
    const run = handler as JobHandler<object>;
    const worker = new Worker<object, unknown, string>(
      name,
      async (job, token) => {
        const controller = new AbortController();
        this.running.add(controller);
        if (this.aborting) controller.abort(new QueueClosedError());
        try {
          await run({ id: job.id ?? '', name: job.name, data: job.data, attempt: job.attemptsMade + 1 }, controller.signal);
        } catch (thrown) {
          if (controller.signal.aborted && this.closing && token) {
            // Interrupted by close(): back to waiting, no attempt counted, no failure event.
            // If that fails (lock lost, Redis gone) the job is still active with a lock that
            // expires: the stalled-job check hands it back all the same.
            await job.moveToWait(token).catch((error: unknown) => this.logError(toError(error), 'could not hand an interrupted job back'));
            throw new WaitingError();
          }
          throw toError(thrown);
        } finally {
          this.running.delete(controller);
        }
      },
      {
        connection: this.workerConnection,
        prefix: this.options.prefix,
        concurrency: options.concurrency,
        lockDuration: this.options.lockDurationMs,
        stalledInterval: this.options.stalledIntervalMs,
        maxStalledCount: this.options.maxStalledCount,
      },
    );
    worker.on('failed', (job, error) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      const final = job.attemptsMade >= attempts || typeof job.finishedOn === 'number';
      this.emit({ job: { id: job.id ?? '', name: job.name, data: job.data, attempt: job.attemptsMade }, error, final });
    });
    worker.on('error', (error) => this.logError(error, 'job worker error'));
    this.workers.set(name, worker);
  }

  onFailure(listener: (event: FailureEvent<object>) => void): void {
    this.listeners.push(listener);
  }

  async isPending(name: string, jobId: string): Promise<boolean> {
    assertQueueName(name);
    const state = await this.queue(name).getJobState(jobId);
    // 'unknown': no such job (never added, removed after completing, or lost with Redis).
    return state !== 'unknown' && state !== 'completed' && state !== 'failed';
  }

  async counts(name: string): Promise<JobCounts> {
    assertQueueName(name);
    const counts = await this.queue(name).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
    };
  }

  async deadLetters(name: string, limit?: number): Promise<DeadLetter[]> {
    assertQueueName(name);
    const jobs = (await this.queue(name).getFailed(0, clampLimit(limit) - 1)) as AnyJob[];
    return jobs.map((job) => ({ id: job.id ?? '', data: job.data, error: job.failedReason ?? '', attempts: job.attemptsMade }));
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    const timer = setTimeout(() => {
      this.aborting = true;
      for (const controller of this.running) controller.abort(new QueueClosedError());
    }, graceMs);
    try {
      // Each worker stops fetching at once and resolves when its running jobs have ended.
      await Promise.all([...this.workers.values()].map((worker) => worker.close()));
    } finally {
      clearTimeout(timer);
    }
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    // Nothing is in flight any more; disconnect() cannot hang on a Redis that is down, as quit() can.
    this.connection.disconnect();
    this.workerConnection?.disconnect();
  }

  private queue(name: string): Queue<object, unknown, string> {
    if (this.closing) throw new QueueClosedError();
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue<object, unknown, string>(name, { connection: this.connection, prefix: this.options.prefix });
      queue.on('error', (error) => this.logError(error, 'job queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private connect(connectionName: string, extra: { maxRetriesPerRequest?: null } = {}): Redis {
    const client = new Redis(this.options.redisUrl, {
      connectionName,
      // Keep reconnecting, backing off to 2 s between attempts.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
      ...extra,
    });
    client.on('error', (error: Error) => this.logError(error, 'job queue connection error'));
    return client;
  }

  private emit(event: FailureEvent<object>): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logError(toError(error), 'job failure listener threw');
      }
    }
  }

  private logError(error: Error, message: string): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 5_000) return;
    this.lastErrorLog = now;
    this.options.logger?.error({ err: error }, message);
  }
}
