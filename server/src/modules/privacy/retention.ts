/**
 * Retention (GDPR Art. 5(1)(e), ASVS 14.2.7): per data class, rows older than the
 * configured number of days are deleted in bounded batches (BATCH rows per statement,
 * `for update skip locked`, so several instances running at once never block or
 * double-count), with one log line per class. 0 days keeps a class forever.
 * Dry runs count what would go and delete nothing.
 */
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import { pseudonymiseBefore } from '../audit/service.js';
import type { Db } from '../../platform/db/database.js';

export const BATCH = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionSettings {
  conversations: number;
  uploads: number;
  securityEvents: number;
  audit: number;
  sessions: number;
  exports: number;
}

export type RetentionClass = keyof RetentionSettings;

export interface RetentionResult {
  class: RetentionClass;
  days: number;
  /** Rows deleted, or that would be deleted in a dry run. */
  rows: number;
  action: 'deleted' | 'would_delete' | 'pseudonymised' | 'would_pseudonymise' | 'kept';
}

/** A purge: the table, its key, and which rows are expired at `cutoff`. */
interface Purge {
  table: 'conversations' | 'documents' | 'security_events' | 'sessions' | 'sign_ins' | 'data_exports';
  expired: (cutoff: Date) => ReturnType<typeof sql<boolean>>;
}

const PURGES: Record<Exclude<RetentionClass, 'audit'>, Purge[]> = {
  // Messages go with their conversation (cascade).
  conversations: [{ table: 'conversations', expired: (c) => sql<boolean>`updated_at < ${c}` }],
  // Originals (document_blobs), chunks and embeddings go with their document (cascade).
  uploads: [{ table: 'documents', expired: (c) => sql<boolean>`created_at < ${c}` }],
  securityEvents: [{ table: 'security_events', expired: (c) => sql<boolean>`created_at < ${c}` }],
  // A session counts from when it ended (revoked, or its absolute expiry).
  sessions: [
    { table: 'sessions', expired: (c) => sql<boolean>`coalesce(revoked_at, expires_at) < ${c} and expires_at < ${c}` },
    { table: 'sign_ins', expired: (c) => sql<boolean>`at < ${c}` },
  ],
  exports: [{ table: 'data_exports', expired: (c) => sql<boolean>`created_at < ${c}` }],
};

export class RetentionService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: RetentionSettings,
  ) {}

  private async countAuditToPseudonymise(cutoff: Date): Promise<number> {
    const row = await this.db
      .selectFrom('audit_entries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('at', '<', cutoff)
      .where((w) => w.or([w('personal_salt', 'is not', null), w('actor_ip', 'is not', null)]))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async run(options: { dryRun?: boolean } = {}): Promise<RetentionResult[]> {
    const now = this.clock.now();
    const results: RetentionResult[] = [];
    if (!options.dryRun) await this.dropStaleArchives(now);
    for (const name of Object.keys(this.settings) as RetentionClass[]) {
      const days = this.settings[name];
      let result: RetentionResult;
      if (days === 0) {
        result = { class: name, days, rows: 0, action: 'kept' };
      } else if (name === 'audit') {
        // Audit entries are never deleted (the chain must verify): past their age, their
        // personal fields are pseudonymised, which the chain allows (modules/audit).
        const cutoff = new Date(now.getTime() - days * DAY_MS);
        const rows = options.dryRun ? await this.countAuditToPseudonymise(cutoff) : await pseudonymiseBefore(this.db, cutoff, now);
        result = { class: name, days, rows, action: options.dryRun ? 'would_pseudonymise' : 'pseudonymised' };
      } else {
        const cutoff = new Date(now.getTime() - days * DAY_MS);
        let rows = 0;
        for (const purge of PURGES[name]) rows += options.dryRun ? await this.count(purge, cutoff) : await this.purge(purge, cutoff);
        result = { class: name, days, rows, action: options.dryRun ? 'would_delete' : 'deleted' };
      }
      this.logger.info({ retention: result.class, days: result.days, rows: result.rows, action: result.action }, 'retention');
      results.push(result);
    }
    return results;
  }

  private async count(purge: Purge, cutoff: Date): Promise<number> {
    const row = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(purge.table)} where ${purge.expired(cutoff)}`.execute(this.db);
    return Number(row.rows[0]?.n ?? 0);
  }

  /** Deletes in batches until none is left; each statement touches at most BATCH rows. */
  private async purge(purge: Purge, cutoff: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await sql`
        delete from ${sql.table(purge.table)} where id in (
          select id from ${sql.table(purge.table)} where ${purge.expired(cutoff)} limit ${BATCH} for update skip locked)`.execute(this.db);
      const deleted = Number(result.numAffectedRows ?? 0n);
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }

  /** Export archives past their link's expiry are deleted whatever the settings: the link is dead. */
  private async dropStaleArchives(now: Date): Promise<void> {
    await this.db.updateTable('data_exports').set({ archive: null, status: 'expired' }).where('status', '=', 'ready').where('expires_at', '<=', now).execute();
  }
}
