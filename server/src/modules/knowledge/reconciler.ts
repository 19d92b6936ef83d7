/**
 * The ingestion reconciler: documents whose job the queue no longer holds are enqueued
 * again while the system runs. The database is the source of truth, the queue is not:
 * Redis restarted without persistence (or flushed, or failed over to an empty replica)
 * comes back with no jobs, and an upload whose enqueue failed after its row committed
 * has none either. Start-up recovery (`IngestionPipeline.recover`) only helps when a
 * process restarts; this catches the rest within a minute or two.
 *
 * Every API process (`bastion serve`) and every `bastion worker` runs it; a short lock on
 * the store makes one of them do each pass at a time. A pass looks at unfinished
 * documents created more than `graceMs` ago (a newer one may be between its commit and
 * its enqueue), asks the queue whether each one's job is still pending, and enqueues the
 * missing ones again under the same job id (the document id). So two passes, two
 * processes, or a pass and an upload cannot enqueue a document twice, and a job that
 * runs twice anyway finds the work done (the pipeline is idempotent): each document ends
 * `ready` once, with one set of chunks.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { JobQueue } from '../../platform/queue/queue.js';
import type { Store } from '../../platform/store/store.js';
import { INGEST_JOB, type IngestionPipeline } from './pipeline.js';
import * as repo from './repo.js';

export interface ReconcileTimings {
  /** How often each process tries a pass (another process holding the lock skips it). */
  intervalMs: number;
  /** Documents younger than this are left alone: their upload may still be enqueuing them. */
  graceMs: number;
  /** Expiry of the lock: a process that dies in the middle of a pass blocks others no longer than this. */
  lockMs: number;
}

/**
 * A lost job is found within graceMs + intervalMs of its document's upload, or within
 * intervalMs of the loss for older documents (40 s at most, inside the minute in which
 * every accepted document must be on its way). A pass costs one indexed query and one
 * queue lookup per unfinished document, done by one process at a time (the lock).
 */
export const RECONCILE_TIMINGS: ReconcileTimings = { intervalMs: 20_000, graceMs: 20_000, lockMs: 60_000 };

/** Store key of the lock (under REDIS_KEY_PREFIX on Redis). */
export const RECONCILE_LOCK_KEY = 'lock:ingest-reconcile';
/** Unfinished documents looked at per pass, oldest first (as start-up recovery). */
const SCAN_LIMIT = 10_000;
/** Queue lookups in flight at once. */
const LOOKUPS_AT_ONCE = 50;
/** How long stop() waits for a pass in progress (it stops between steps, but a lookup may hang on a dead Redis). */
const STOP_WAIT_MS = 5_000;

export interface ReconcilerDeps {
  db: Db;
  queue: Pick<JobQueue, 'isPending'>;
  store: Pick<Store, 'set' | 'compareAndSet'>;
  clock: Clock;
  logger: Logger;
  pipeline: Pick<IngestionPipeline, 'enqueue'>;
  timings?: ReconcileTimings;
}

export class IngestionReconciler {
  private readonly timings: ReconcileTimings;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.timings = deps.timings ?? RECONCILE_TIMINGS;
  }

  /**
   * One pass: returns how many documents were enqueued again, or null when another
   * process holds the lock. Throws when the database, the store or the queue fails; the
   * next pass starts over. The lock is given back when the pass ends (it lapses 1 ms
   * later: the store has no atomic delete-if-mine, and a lock that expired during a long
   * pass may be another process's by then, which a plain delete would remove).
   */
  async pass(): Promise<number | null> {
    const { db, queue, store, clock, logger, pipeline } = this.deps;
    const owner = randomUUID();
    if (!(await store.set(RECONCILE_LOCK_KEY, owner, { ifAbsent: true, ttlMs: this.timings.lockMs }))) return null;
    let requeued = 0;
    try {
      const candidates = await repo.unfinishedDocuments(db, SCAN_LIMIT, new Date(clock.now().getTime() - this.timings.graceMs));
      const missing: string[] = [];
      for (let i = 0; i < candidates.length && !this.stopped; i += LOOKUPS_AT_ONCE) {
        const batch = candidates.slice(i, i + LOOKUPS_AT_ONCE);
        const pending = await Promise.all(batch.map(({ id }) => queue.isPending(INGEST_JOB, id)));
        batch.forEach(({ id }, j) => {
          if (!pending[j]) missing.push(id);
        });
      }
      // A job that completed between the two reads has finished its document: read again.
      const unfinished = await repo.stillUnfinished(db, missing);
      for (const id of missing) {
        if (this.stopped) break;
        if (!unfinished.has(id)) continue;
        await pipeline.enqueue(id); // same job id as the upload's: a no-op if it is back meanwhile
        requeued += 1;
      }
      return requeued;
    } finally {
      if (requeued > 0) logger.warn({ requeued }, 'documents whose ingestion job was missing from the queue (Redis lost it?) were enqueued again');
      // Give the lock back only if it is still ours: expire it at once.
      await store.compareAndSet(RECONCILE_LOCK_KEY, owner, owner, { ttlMs: 1 }).catch(() => undefined);
    }
  }

  /** Runs a pass every intervalMs until stopped (the first after one interval: start-up recovery covers the start). */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      if (this.running) return; // the previous pass is still going
      this.running = this.pass()
        .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'ingestion reconcile pass failed; the next one retries'))
        .finally(() => {
          this.running = null;
        });
    }, this.timings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    if (!this.running) return;
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((resolve) => (wait = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(wait);
  }
}
