/**
 * The purge of deleted conversations: every API process, while it runs, deletes the
 * conversations (and their messages, by cascade) whose restore window has passed, in
 * bounded batches. Safe on many processes at once: each batch skips the rows another
 * holds, and a restore that committed first keeps its row.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import { RESTORE_WINDOW_MS } from './organise.js';
import * as repo from './repo.js';
import { PeriodicJob } from '../../platform/periodic.js';

export interface PurgeTimings {
  /** How often each process purges. */
  intervalMs: number;
  /** Rows per statement. */
  batch: number;
}

/** Worst case from a deletion to its purge: RESTORE_WINDOW_MS + intervalMs (1 min). */
export const PURGE_TIMINGS: PurgeTimings = { intervalMs: 30_000, batch: 500 };

export class DeletedConversationPurge {
  private readonly job: PeriodicJob;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly timings: PurgeTimings = PURGE_TIMINGS,
  ) {
    this.job = new PeriodicJob('purge of deleted conversations', () => this.purge(), logger, timings.intervalMs);
  }

  /** Deletes every conversation deleted longer than the restore window ago; the number deleted. */
  async purge(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - RESTORE_WINDOW_MS);
    let total = 0;
    for (;;) {
      const deleted = await repo.purgeDeleted(this.db, before, this.timings.batch);
      total += deleted;
      if (deleted < this.timings.batch) break;
    }
    if (total > 0) this.logger.info({ conversations: total }, 'deleted conversations purged');
    return total;
  }

  /** Purges now and every `intervalMs` until stopped; a failed run (database down) waits for the next. */
  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }
}
