/**
 * Kysely dialect over PGlite (PostgreSQL compiled to WASM): an instance in process (tests)
 * or one in a worker thread (`serve` and the commands: pglite-thread.ts).
 *
 * PGlite has exactly one session, so the driver hands out one connection at a
 * time: a transaction holds it until commit/rollback and other queries wait.
 *
 * A full disk: once a statement fails with `disk_full` (53100, e.g. the WAL writer could not
 * create its next segment), PGlite spins forever in XLogFlush on the next statement — the
 * event loop with it, even after space returns. So that instance is never called again:
 * statements fail at once with 53100 (a 503), and with a `recovery` a fresh instance is
 * opened on the same files when space is back; it replays the WAL like after a crash.
 */
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { Logger } from 'pino';

export interface SessionResult {
  rows: unknown[];
  affectedRows?: number;
}

/** PGlite's one session, as the dialect uses it: a PGlite instance is one, so is a PGliteThread. */
export interface PGliteSession {
  query<R>(sql: string, params: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  /** Parameterless text, possibly several statements: a result per statement. */
  exec(sql: string): Promise<SessionResult[]>;
  close(): Promise<void>;
  readonly closed: boolean;
  readonly waitReady?: Promise<void>;
  /** The session died under the dialect (its thread crashed): reopen it like after a full disk. */
  readonly lost?: boolean;
  /** Lets go of a stopped session without closing it (closing runs a checkpoint, which would spin). */
  discard?(): Promise<void>;
}

/** How the driver gets a working instance back after a disk-full error or a lost session. */
export interface PGliteRecovery {
  /** Opens a fresh instance on the same files; rejects while that is not safe yet (too little space). */
  reopen(): Promise<PGliteSession>;
  logger: Logger;
  /**
   * Least time between two attempts; default 1 s. An attempt refused by `reopen` (too little
   * space) costs one statfs; one that opens blocks the event loop for about a second, once.
   */
  retryMs?: number;
}

export class PGliteDialect implements Dialect {
  constructor(
    private readonly pglite: PGliteSession,
    private readonly recovery?: PGliteRecovery,
  ) {}

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite, this.recovery);
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

/** SQLSTATE disk_full; the message covers errors raised before PostgreSQL classified them. */
function isDiskFull(error: unknown): boolean {
  return error instanceof Error && ((error as { code?: unknown }).code === '53100' || /No space left on device/i.test(error.message));
}

class PGliteConnection implements DatabaseConnection {
  /** Set by a disk-full error: this instance must not be called again. */
  private diskFull = false;

  constructor(readonly pglite: PGliteSession) {}

  /** Whether this instance must not be called again: its disk filled, or its thread died. */
  get stopped(): boolean {
    return this.diskFull || this.pglite.lost === true;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.stopped) {
      throw Object.assign(new Error('The embedded database stopped after its disk filled up; it reopens once space under DATA_DIR is back.'), { code: '53100' });
    }
    try {
      return await this.run<R>(query);
    } catch (error) {
      if (isDiskFull(error)) this.diskFull = true;
      throw error;
    }
  }

  private async run<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (query.parameters.length === 0) {
      // Parameterless text may hold several statements (migration scripts): use the
      // simple-query path and answer with the last statement's result, as pg does.
      const results = await this.pglite.exec(query.sql);
      const last = results.at(-1);
      return { rows: (last?.rows ?? []) as R[], numAffectedRows: BigInt(last?.affectedRows ?? 0) };
    }
    const result = await this.pglite.query<R>(query.sql, query.parameters as unknown[]);
    return { rows: result.rows, numAffectedRows: BigInt(result.affectedRows ?? 0) };
  }

  // eslint-disable-next-line require-yield -- streaming is not offered by PGlite
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite dialect does not support streaming');
  }
}

class PGliteDriver implements Driver {
  private connection: PGliteConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  private nextRecovery = 0;

  constructor(
    pglite: PGliteSession,
    private readonly recovery: PGliteRecovery | undefined,
  ) {
    this.connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {
    await this.connection.pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.release = release;
    if (this.connection.stopped) await this.recover();
    return this.connection;
  }

  /** With the connection held: swaps in a fresh instance when `recovery` allows it (at most every retryMs). */
  private async recover(): Promise<void> {
    const recovery = this.recovery;
    if (!recovery || Date.now() < this.nextRecovery) return;
    this.nextRecovery = Date.now() + (recovery.retryMs ?? 1_000);
    try {
      // The stopped instance is dropped, not closed: closing runs a checkpoint, which would spin.
      // A thread is ended first: it may be spinning, and it holds the files.
      const lost = this.connection.pglite.lost === true;
      await this.connection.pglite.discard?.();
      this.connection = new PGliteConnection(await recovery.reopen());
      recovery.logger.warn(lost ? 'embedded database reopened after its thread stopped (recovered from its write-ahead log)' : 'embedded database reopened after a full disk (recovered from its write-ahead log)');
    } catch (error) {
      recovery.logger.warn({ err: error }, 'embedded database still stopped; retrying when space under DATA_DIR is back');
    }
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const modes = [settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : '', settings.accessMode ?? ''].filter(Boolean);
    // Identifiers come from Kysely's closed enums, never from input.
    await connection.executeQuery(CompiledQuery.raw(modes.length > 0 ? `begin ${modes.join(', ')}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.queue;
    const { pglite, stopped } = this.connection;
    if (!stopped && !pglite.closed) await pglite.close();
  }
}
