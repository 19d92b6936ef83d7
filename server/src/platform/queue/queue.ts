/**
 * Job queue: BullMQ on Redis in production (`BullMqQueue`), an in-process queue by
 * default (`MemoryQueue`); `openQueue` picks one. Both behave the same way:
 *
 * - Idempotent by job id: adding an id that is waiting, delayed or active is a no-op.
 *   Once the job has finished (completed, or dead-lettered) the id is free again and
 *   adding it runs the job anew; a dead-lettered job re-added leaves the dead letters.
 * - A handler that throws is retried with exponential backoff and jitter until its
 *   attempts are used up; then it is dead-lettered (kept, bounded, with its last error)
 *   and a final failure event is emitted. Successful jobs are not kept.
 * - `close()` stops taking jobs, aborts the signal of running handlers after a grace
 *   period and waits for them. A handler that ends because of that abort is not a
 *   failure: no attempt is counted, no event is emitted, and BullMQ puts the job back
 *   in the waiting list for another process (the in-process queue simply drops it).
 *
 * The database stays the source of truth: the caller re-enqueues unfinished work at
 * start, so losing the in-process queue on a stop loses nothing.
 */

export interface JobOptions {
  /** Idempotency key: adding an id that is waiting/active/delayed is a no-op. No `:`, not an integer. */
  jobId: string;
  /** Total runs before the job is dead-lettered; default 5. */
  attempts?: number;
  /** Exponential backoff base in ms (retry n waits about base·2^(n-1), jittered down by up to half); default 1000. */
  backoffMs?: number;
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
}

export interface Job<T> {
  id: string;
  name: string;
  data: T;
  /** 1-based: the run this is. */
  attempt: number;
}

export type JobHandler<T> = (job: Job<T>, signal: AbortSignal) => Promise<void>;

export interface FailureEvent<T> {
  job: Job<T>;
  error: Error;
  /** Attempts exhausted: dead-lettered. */
  final: boolean;
}

export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  /** Dead-lettered jobs kept (bounded by DEAD_LETTERS_KEPT). */
  failed: number;
}

export interface DeadLetter {
  id: string;
  data: object;
  /** The last error's message. */
  error: string;
  attempts: number;
}

export interface JobQueue {
  readonly kind: 'bullmq' | 'memory';
  add<T extends object>(name: string, data: T, options: JobOptions): Promise<void>;
  /** Starts consuming `name` with at most `concurrency` jobs at once in this process. */
  process<T extends object>(name: string, handler: JobHandler<T>, options: { concurrency: number }): void;
  onFailure(listener: (event: FailureEvent<object>) => void): void;
  /**
   * Whether the job `jobId` of `name` will still run: it is waiting, delayed or active.
   * False when the queue has no such job, or only a finished one (completed, or
   * dead-lettered): never added, done, or lost with Redis. The ingestion reconciler asks
   * this to find documents whose job is gone.
   */
  isPending(name: string, jobId: string): Promise<boolean>;
  /** Counts for monitoring: waiting, active, delayed, failed (dead-lettered) per queue name. */
  counts(name: string): Promise<JobCounts>;
  /** Dead-lettered jobs with their last error, newest first (bounded). */
  deadLetters(name: string, limit?: number): Promise<DeadLetter[]>;
  /** Stops taking jobs, aborts the signal of running ones after `graceMs` (default 10 s) and waits for them. */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_ATTEMPTS = 5;
export const DEFAULT_BACKOFF_MS = 1_000;
export const DEFAULT_GRACE_MS = 10_000;
/** Share of each backoff delay that is randomised (BullMQ's `jitter`). */
export const BACKOFF_JITTER = 0.5;
/** Dead-lettered jobs kept per queue name (older ones are dropped). */
export const DEAD_LETTERS_KEPT = 1_000;
/** Completed jobs BullMQ keeps per queue name for inspection. */
export const COMPLETED_KEPT = 100;
export const DEFAULT_DEAD_LETTER_LIMIT = 50;

/** The queue was closed: it takes no more jobs. */
export class QueueClosedError extends Error {
  constructor() {
    super('The job queue is closed');
    this.name = 'QueueClosedError';
  }
}

/**
 * Delay before retry number `retry` (1 for the first retry): BullMQ's exponential
 * strategy with jitter, so both implementations wait alike.
 */
export function retryDelay(retry: number, baseMs: number, random: () => number = Math.random): number {
  const max = Math.round(2 ** (retry - 1) * baseMs);
  if (BACKOFF_JITTER <= 0) return max;
  const min = max * (1 - BACKOFF_JITTER);
  return Math.floor(random() * max * BACKOFF_JITTER + min);
}

export interface ResolvedJobOptions {
  jobId: string;
  attempts: number;
  backoffMs: number;
  delayMs: number;
}

/** Validates a queue name (BullMQ rejects `:` in names). */
export function assertQueueName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 100 || name.includes(':')) {
    throw new TypeError(`Invalid queue name ${JSON.stringify(name)}: 1-100 characters, no ':'`);
  }
}

/** Validates options the same way in both implementations and fills the defaults. */
export function resolveJobOptions(options: JobOptions): ResolvedJobOptions {
  const { jobId } = options;
  // BullMQ refuses integer ids (they collide with its generated ones) and ':' (its key separator).
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > 256 || jobId.includes(':') || `${parseInt(jobId, 10)}` === jobId) {
    throw new TypeError(`Invalid job id ${JSON.stringify(jobId)}: 1-256 characters, no ':', not an integer`);
  }
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  const delayMs = options.delayMs ?? 0;
  if (!Number.isInteger(attempts) || attempts < 1) throw new TypeError(`attempts must be an integer ≥ 1, got ${attempts}`);
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new TypeError(`backoffMs must be ≥ 0, got ${backoffMs}`);
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new TypeError(`delayMs must be ≥ 0, got ${delayMs}`);
  return { jobId, attempts, backoffMs, delayMs };
}

export function assertConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
}

export function clampLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_DEAD_LETTER_LIMIT;
  if (!Number.isFinite(value) || value < 1) return 1;
  return Math.min(Math.floor(value), DEAD_LETTERS_KEPT);
}

/** Whatever a handler threw, as an Error. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `Non-error thrown: ${String(thrown)}`);
}

/** Job data travels as JSON (BullMQ stores it so); the in-process queue copies it the same way. */
export function jsonCopy<T>(data: T): T {
  const text = JSON.stringify(data);
  if (text === undefined) throw new TypeError('Job data must be JSON-serialisable');
  return JSON.parse(text) as T;
}
