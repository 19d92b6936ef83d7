/**
 * In-process job queue: the default when Redis is not configured (single process).
 * Same contract as the BullMQ queue (see queue.ts); what it holds is lost on exit,
 * which is fine because the database is the source of truth and unfinished work is
 * re-enqueued at start.
 *
 * Delays (`delayMs`, retry backoff) run on timers (unref'd, so vitest fake timers work);
 * the injected `now` stamps dead letters, `random` drives the backoff jitter, and
 * `maxJobs` bounds the jobs held (waiting + delayed + active, all names): adding
 * beyond it rejects with QueueFullError.
 */
import {
  assertConcurrency,
  assertQueueName,
  clampLimit,
  DEAD_LETTERS_KEPT,
  DEFAULT_GRACE_MS,
  jsonCopy,
  QueueClosedError,
  resolveJobOptions,
  retryDelay,
  toError,
  type DeadLetter,
  type FailureEvent,
  type JobCounts,
  type JobHandler,
  type JobOptions,
  type JobQueue,
} from './queue.js';

export interface MemoryQueueOptions {
  now?: () => number;
  random?: () => number;
  /** Most jobs held at once (waiting + delayed + active, all names); default 100 000. */
  maxJobs?: number;
}

export class QueueFullError extends Error {
  constructor(maxJobs: number) {
    super(`The in-process job queue holds its maximum of ${maxJobs} jobs`);
    this.name = 'QueueFullError';
  }
}

interface Entry {
  id: string;
  name: string;
  data: object;
  attempts: number;
  backoffMs: number;
  /** Runs that have ended in failure so far. */
  failures: number;
  state: 'waiting' | 'delayed' | 'active';
  timer?: ReturnType<typeof setTimeout>;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

interface Lane {
  jobs: Map<string, Entry>;
  waiting: Entry[];
  running: Set<Running>;
  handler?: JobHandler<object>;
  concurrency: number;
  /** Newest first. */
  dead: Array<DeadLetter & { at: number }>;
}

export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxJobs: number;
  private readonly lanes = new Map<string, Lane>();
  private readonly listeners: Array<(event: FailureEvent<object>) => void> = [];
  private held = 0;
  private closing: Promise<void> | null = null;
  private aborted = false;

  constructor(options: MemoryQueueOptions = {}) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.maxJobs = options.maxJobs ?? 100_000;
  }

  async add<T extends object>(name: string, data: T, options: JobOptions): Promise<void> {
    assertQueueName(name);
    const resolved = resolveJobOptions(options);
    const copy = jsonCopy(data);
    if (this.closing) throw new QueueClosedError();
    const lane = this.lane(name);
    if (lane.jobs.has(resolved.jobId)) return;
    if (this.held >= this.maxJobs) throw new QueueFullError(this.maxJobs);
    // A dead-lettered id added again starts over (as in BullMQ, where the failed job is replaced).
    lane.dead = lane.dead.filter((letter) => letter.id !== resolved.jobId);
    const entry: Entry = {
      id: resolved.jobId,
      name,
      data: copy,
      attempts: resolved.attempts,
      backoffMs: resolved.backoffMs,
      failures: 0,
      state: 'waiting',
    };
    lane.jobs.set(entry.id, entry);
    this.held += 1;
    if (resolved.delayMs > 0) this.delay(lane, entry, resolved.delayMs);
    else this.enqueue(lane, entry);
  }

  process<T extends object>(name: string, handler: JobHandler<T>, options: { concurrency: number }): void {
    assertQueueName(name);
    assertConcurrency(options.concurrency);
    if (this.closing) throw new QueueClosedError();
    const lane = this.lane(name);
    if (lane.handler) throw new Error(`Queue ${name} is already being processed`);
    lane.handler = handler as JobHandler<object>;
    lane.concurrency = options.concurrency;
    this.pump(lane);
  }

  onFailure(listener: (event: FailureEvent<object>) => void): void {
    this.listeners.push(listener);
  }

  async isPending(name: string, jobId: string): Promise<boolean> {
    assertQueueName(name);
    return this.lanes.get(name)?.jobs.has(jobId) ?? false;
  }

  async counts(name: string): Promise<JobCounts> {
    const counts: JobCounts = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    const lane = this.lanes.get(name);
    if (!lane) return counts;
    for (const entry of lane.jobs.values()) {
      if (entry.state === 'waiting') counts.waiting += 1;
      else if (entry.state === 'active') counts.active += 1;
      else counts.delayed += 1;
    }
    counts.failed = lane.dead.length;
    return counts;
  }

  async deadLetters(name: string, limit?: number): Promise<DeadLetter[]> {
    const lane = this.lanes.get(name);
    if (!lane) return [];
    return lane.dead.slice(0, clampLimit(limit)).map(({ id, data, error, attempts }) => ({ id, data: jsonCopy(data), error, attempts }));
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    const running: Running[] = [];
    for (const lane of this.lanes.values()) {
      for (const entry of lane.jobs.values()) if (entry.timer) clearTimeout(entry.timer);
      lane.waiting.length = 0;
      running.push(...lane.running);
    }
    const all = Promise.all(running.map((run) => run.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    if ((await Promise.race([all.then(() => 'done' as const), grace.then(() => 'grace' as const)])) === 'grace') {
      this.aborted = true;
      for (const run of running) run.controller.abort(new QueueClosedError());
      await all;
    }
    clearTimeout(timer);
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      lane = { jobs: new Map(), waiting: [], running: new Set(), concurrency: 1, dead: [] };
      this.lanes.set(name, lane);
    }
    return lane;
  }

  private delay(lane: Lane, entry: Entry, ms: number): void {
    entry.state = 'delayed';
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (!this.closing) this.enqueue(lane, entry);
    }, ms);
    entry.timer.unref?.();
  }

  private enqueue(lane: Lane, entry: Entry): void {
    entry.state = 'waiting';
    lane.waiting.push(entry);
    this.pump(lane);
  }

  private pump(lane: Lane): void {
    const handler = lane.handler;
    if (!handler) return;
    while (!this.closing && lane.running.size < lane.concurrency) {
      const entry = lane.waiting.shift();
      if (!entry) return;
      this.run(lane, handler, entry);
    }
  }

  private run(lane: Lane, handler: JobHandler<object>, entry: Entry): void {
    entry.state = 'active';
    const controller = new AbortController();
    const job = { id: entry.id, name: entry.name, data: jsonCopy(entry.data), attempt: entry.failures + 1 };
    const running: Running = {
      controller,
      done: Promise.resolve()
        .then(() => handler(job, controller.signal))
        .then(
          () => this.finish(lane, entry),
          (thrown: unknown) => this.fail(lane, entry, job, toError(thrown), controller.signal.aborted && this.aborted),
        )
        .finally(() => {
          lane.running.delete(running);
          this.pump(lane);
        }),
    };
    lane.running.add(running);
  }

  private finish(lane: Lane, entry: Entry): void {
    lane.jobs.delete(entry.id);
    this.held -= 1;
  }

  private fail(lane: Lane, entry: Entry, job: { id: string; name: string; data: object; attempt: number }, error: Error, abortedByClose: boolean): void {
    if (abortedByClose) {
      // Released, not failed: the queue is going away and the caller re-enqueues at start.
      this.finish(lane, entry);
      return;
    }
    entry.failures += 1;
    const final = entry.failures >= entry.attempts;
    if (final) {
      this.finish(lane, entry);
      lane.dead.unshift({ id: entry.id, data: entry.data, error: error.message, attempts: entry.failures, at: this.now() });
      if (lane.dead.length > DEAD_LETTERS_KEPT) lane.dead.length = DEAD_LETTERS_KEPT;
    } else if (this.closing) {
      this.finish(lane, entry);
    } else {
      this.delay(lane, entry, retryDelay(entry.failures, entry.backoffMs, this.random));
    }
    this.emit({ job, error, final });
  }

  private emit(event: FailureEvent<object>): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's own failure must not disturb the queue.
      }
    }
  }
}
