/**
 * Who is writing an answer, and who finishes it when that writer is gone. An answer row
 * in `streaming` is leased by the API process producing it (`lease_owner`, a random id
 * per process) and kept alive by its heartbeat (`updated_at`, also moved by every
 * checkpoint). A sweeper on every process finishes the answers whose writer stopped
 * heartbeating — killed, or cut off from the database — as `incomplete` / `interrupted`,
 * keeping the text of the last checkpoint. A final write that fails because the database
 * is down is retried here until it lands, so the answer ends with its real outcome.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import * as repo from './repo.js';

export interface LeaseTimings {
  /** How often a live answer moves its `updated_at`. */
  heartbeatMs: number;
  /** An answer not heartbeating for this long has lost its writer. */
  staleMs: number;
  /** How often each process looks for such answers. */
  sweepMs: number;
  /** First retry of a failed final write; doubles up to 10 s. */
  retryMs: number;
  /** A final write still failing after this long is given up (the sweeper then keeps the last checkpoint). */
  retryForMs: number;
}

/** Worst case from a writer's death to its answer being finished: staleMs + sweepMs (40 s). */
export const LEASE_TIMINGS: LeaseTimings = { heartbeatMs: 10_000, staleMs: 30_000, sweepMs: 10_000, retryMs: 1_000, retryForMs: 15 * 60_000 };

export interface Lease {
  /** Ends the heartbeat; the answer is no longer live here. */
  release(): void;
}

export class AnswerLeases {
  /** This process, as recorded on the answers it writes. */
  readonly owner = randomUUID();
  /** Answers streaming in this process: never swept here. */
  private readonly live = new Set<string>();
  /** Answers whose final write is being retried here: never swept here either. */
  private readonly pending = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly timings: LeaseTimings = LEASE_TIMINGS,
  ) {}

  /** Holds the lease of a new answer until released: heartbeats while it streams. */
  hold(workspaceId: string, answerId: string): Lease {
    this.live.add(answerId);
    const beat = setInterval(() => {
      // A missed beat is harmless; three in a row let another process finish the answer.
      repo.heartbeat(this.db, workspaceId, answerId, this.owner, this.clock.now()).catch(() => undefined);
    }, this.timings.heartbeatMs);
    beat.unref();
    return {
      release: () => {
        clearInterval(beat);
        this.live.delete(answerId);
      },
    };
  }

  /** Whether an answer of this age-stamp still has a live writer somewhere. */
  isLive(updatedAt: Date): boolean {
    return this.clock.now().getTime() - updatedAt.getTime() < this.timings.staleMs;
  }

  /** The oldest heartbeat a live answer can have now. */
  liveSince(): Date {
    return new Date(this.clock.now().getTime() - this.timings.staleMs);
  }

  /**
   * Writes an answer's final state, retrying in the background while the database is
   * down. Resolves true when it landed at once, false when it is left to the retries
   * (the answer stays live here, so this process does not sweep it meanwhile).
   */
  async finish(answerId: string, write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      this.logger.warn({ err: error, answerId }, 'final write of an answer failed; retrying until the database answers');
      this.pending.add(answerId);
      void this.retry(answerId, write);
      return false;
    }
  }

  private async retry(answerId: string, write: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.timings.retryForMs;
    let wait = this.timings.retryMs;
    try {
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        try {
          await write();
          this.logger.info({ answerId }, 'final write of an answer landed after a retry');
          return;
        } catch {
          wait = Math.min(wait * 2, 10_000);
        }
      }
      this.logger.error({ answerId }, 'gave up the final write of an answer; the sweeper keeps its last checkpoint');
    } finally {
      this.pending.delete(answerId);
    }
  }

  /** Finishes answers whose writer stopped heartbeating. Safe on every process at once: one conditional UPDATE. */
  async sweep(): Promise<number> {
    const swept = await repo.markAbandoned(this.db, this.liveSince(), [...this.live, ...this.pending]);
    if (swept > 0) this.logger.warn({ answers: swept }, 'answers whose writer stopped were marked incomplete (interrupted)');
    return swept;
  }

  /** Sweeps now and every `sweepMs` until stopped; a sweep failing (database down) waits for the next. */
  start(): void {
    if (this.sweeper) return;
    const run = () => {
      this.sweeping = this.sweep().catch((error: unknown) => this.logger.debug({ err: error }, 'answer sweep failed; next one retries'));
    };
    run();
    this.sweeper = setInterval(run, this.timings.sweepMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.sweeping;
  }
}
