/**
 * The conversation search index: a keyed blind index of the stemmed words of each message
 * and title. A word is stored as the first 8 bytes of HMAC-SHA-256 under the workspace's
 * search key (derived from its data key), never in clear; what this reveals to someone who
 * reads the database is in docs/security-model.md.
 *
 * The indexer is the index's only writer. Writers of messages and titles only clear their
 * row's mark (search_indexed_at, title_indexed_at) and nudge it; every API process runs it
 * while it is up, so rows written before the index existed, or while it was failing, are
 * indexed while the system runs. Concurrent indexers skip the rows another holds.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import { CryptoError } from '../../platform/crypto/crypto-error.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import { PeriodicJob } from '../../platform/periodic.js';
import { MessageSealing } from './sealing.js';
import * as searchRepo from './search-repo.js';
import { termCounts } from './search-text.js';

export interface SearchIndexTimings {
  /** How often each process looks for rows to index (writers also nudge it at once). */
  intervalMs: number;
  /** Rows read per batch. */
  batch: number;
}

export const SEARCH_INDEX_TIMINGS: SearchIndexTimings = { intervalMs: 5_000, batch: 100 };

/**
 * How long a nudge waits, gathering the writes of that second into one batch: indexing
 * right after every answer, one transaction each, took CPU from the answers being streamed
 * (added time to first token p95 17.6 → 45.3 ms at 100 streams, bench/results).
 */
const NUDGE_DELAY_MS = 1_000;

/** What a word's count is capped at (the column is a smallint; past this it ranks the same). */
const HITS_MAX = 1000;

/** Turns stemmed words into the workspace's blind terms. */
export class SearchTerms {
  constructor(private readonly encryptor: Encryptor) {}

  /** The term function of a workspace: the same word gives the same term there, and an unrelated one anywhere else. */
  async of(workspaceId: string): Promise<(stem: string) => string> {
    const key = await this.encryptor.deriveKey({ scope: 'workspace', id: workspaceId }, 'conversation-search');
    return (stem) => createHmac('sha256', key).update(stem, 'utf8').digest().readBigInt64BE(0).toString();
  }
}

export class ConversationSearchIndexer {
  private readonly sealing: MessageSealing;
  private readonly terms: SearchTerms;
  private readonly job: PeriodicJob;

  constructor(
    private readonly deps: { db: Db; encryptor: Encryptor; clock: Clock; logger: Logger },
    private readonly timings: SearchIndexTimings = SEARCH_INDEX_TIMINGS,
  ) {
    this.sealing = new MessageSealing(deps.encryptor);
    this.terms = new SearchTerms(deps.encryptor);
    this.job = new PeriodicJob('conversation search indexing', () => this.indexBacklog(), deps.logger, timings.intervalMs);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** A message or title changed: index it soon rather than at the next interval. */
  nudge(): void {
    this.job.nudge(NUDGE_DELAY_MS);
  }

  /** Indexes every message and title waiting; the number of rows indexed. */
  async indexBacklog(): Promise<number> {
    let total = 0;
    for (;;) {
      const indexed = (await this.indexMessages()) + (await this.indexTitles());
      total += indexed;
      if (indexed === 0) break;
    }
    return total;
  }

  private async indexMessages(): Promise<number> {
    const rows = await searchRepo.messagesToIndex(this.deps.db, this.timings.batch);
    if (rows.length === 0) return 0;
    const prepared = await this.prepare(rows, (row) => (row.superseded ? Promise.resolve('') : this.open(() => this.sealing.openContent(row).then((content) => content.text), row.id)));
    return this.deps.db.transaction().execute(async (trx) => {
      const current = new Map(
        (
          await searchRepo.lockMessages(
            trx,
            rows.map((row) => row.id),
          )
        ).map((row) => [row.id, row]),
      );
      // Indexed only when the row still holds what was read: a change made meanwhile waits for the next run.
      const unchanged = prepared.filter(({ row }) => {
        const now = current.get(row.id);
        return now !== undefined && now.superseded === row.superseded && Buffer.from(now.content).equals(Buffer.from(row.content));
      });
      const reindexed = unchanged.map(({ row, terms }) => ({
        id: row.id,
        conversation_id: row.conversation_id,
        owner: { workspace_id: row.workspace_id, user_id: row.user_id },
        old: current.get(row.id)!,
        ...terms,
      }));
      await searchRepo.replaceTerms(trx, 'messages', reindexed, this.deps.clock.now());
      return Math.max(unchanged.length, 1); // a batch all changed meanwhile is read again, not taken for the end
    });
  }

  private async indexTitles(): Promise<number> {
    const rows = await searchRepo.titlesToIndex(this.deps.db, this.timings.batch);
    if (rows.length === 0) return 0;
    const prepared = await this.prepare(rows, (row) => this.open(() => this.sealing.openTitle(row.id, row.title), row.id));
    return this.deps.db.transaction().execute(async (trx) => {
      const current = new Map(
        (
          await searchRepo.lockTitles(
            trx,
            rows.map((row) => row.id),
          )
        ).map((row) => [row.id, row]),
      );
      const unchanged = prepared.filter(({ row }) => {
        const title = current.get(row.id)?.title;
        return title != null && Buffer.from(title).equals(Buffer.from(row.title));
      });
      const reindexed = unchanged.map(({ row, terms }) => ({
        id: row.id,
        conversation_id: row.id,
        owner: { workspace_id: row.workspace_id, user_id: row.user_id },
        old: current.get(row.id)!,
        ...terms,
      }));
      await searchRepo.replaceTerms(trx, 'titles', reindexed, this.deps.clock.now());
      return Math.max(unchanged.length, 1);
    });
  }

  /** Opens a sealed text; one that no longer opens (its workspace key shredded, tampered) is indexed as empty. */
  private async open(read: () => Promise<string>, rowId: string): Promise<string> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof CryptoError)) throw error;
      this.deps.logger.warn({ rowId, code: error.code }, 'a sealed text did not open; it is left out of the search index');
      return '';
    }
  }

  /**
   * Each row's blind terms, worked out before the transaction opens. The CPU work (opening,
   * stemming, hashing) is done one row at a time, yielding to the event loop between rows:
   * done in one go it held the loop for tens of milliseconds per batch, and answers being
   * streamed by the same process waited that long for their first token.
   */
  private async prepare<Row extends { workspace_id: string }>(rows: Row[], text: (row: Row) => Promise<string>): Promise<{ row: Row; terms: { terms: string[]; hits: number[] } }[]> {
    const hashers = new Map<string, (stem: string) => string>();
    const prepared = [];
    for (const row of rows) {
      let hash = hashers.get(row.workspace_id);
      if (!hash) hashers.set(row.workspace_id, (hash = memoised(await this.terms.of(row.workspace_id))));
      prepared.push({ row, terms: termsOf(await text(row), hash) });
      await yieldToEventLoop();
    }
    return prepared;
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A term function that hashes each word once per batch: the common words recur in most rows. */
function memoised(hash: (stem: string) => string): (stem: string) => string {
  const seen = new Map<string, string>();
  return (stem) => {
    let term = seen.get(stem);
    if (term === undefined) seen.set(stem, (term = hash(stem)));
    return term;
  };
}

/** A text's distinct blind terms and how often each occurs (capped). */
function termsOf(text: string, hash: (stem: string) => string): { terms: string[]; hits: number[] } {
  const counts = [...termCounts(text)];
  return { terms: counts.map(([stem]) => hash(stem)), hits: counts.map(([, hits]) => Math.min(hits, HITS_MAX)) };
}
