/**
 * The Kysely instance: PostgreSQL through a pg pool when DATABASE_URL is set,
 * PGlite under DATA_DIR otherwise. Both speak the same SQL and run the same migrations.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { PGliteOptions } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { formatBytes, statfsReader } from '../storage/free-space.js';
import { claimDataDir, type ClaimOwner } from './data-dir-claim.js';
import { PGliteDialect, type PGliteRecovery, type PGliteSession } from './pglite-dialect.js';
import { PGliteThread } from './pglite-thread.js';
import type { Schema } from './schema/index.js';

export type Db = Kysely<Schema>;

export interface Database {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Pool occupancy for monitoring; absent on PGlite (no pool). */
  poolStats?(): { total: number; idle: number; waiting: number };
  /** Where the embedded database keeps its files; absent on PostgreSQL and in memory. */
  readonly dataDir?: string;
}

type DatabaseConfig = Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'STORAGE_MIN_FREE_BYTES' | 'DB_POOL_MAX' | 'DB_STATEMENT_TIMEOUT_MS' | 'DB_IDLE_TIMEOUT_MS' | 'DB_CONNECT_TIMEOUT_MS'>;

export interface OpenOptions {
  /**
   * Embedded database only: who claims DATA_DIR while it is open (data-dir-claim.ts), named
   * in the refusal another process gets. Default `serve`; CLI commands say `command`.
   */
  owner?: ClaimOwner;
}

/**
 * Opens the configured database. Migrations are applied separately (see migrator.ts).
 * The embedded database is claimed for this process until `close()`: while another process
 * holds it, this throws `DataDirInUseError` (PostgreSQL takes any number of processes).
 */
export async function openDatabase(config: DatabaseConfig, logger: Logger, options: OpenOptions = {}): Promise<Database> {
  if (config.DATABASE_URL) return openPostgres(config.DATABASE_URL, config, logger);
  const claim = claimDataDir(config.DATA_DIR, options.owner ?? 'serve');
  try {
    const database = await openPGlite(config, logger);
    return {
      ...database,
      close: async () => {
        try {
          await database.close();
        } finally {
          claim.release();
        }
      },
    };
  } catch (error) {
    claim.release();
    throw error;
  }
}

async function openPGlite(config: DatabaseConfig, logger: Logger): Promise<Database> {
  const dir = path.join(config.DATA_DIR, 'pgdata');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // In a worker thread: statements never hold the HTTP event loop (pglite-thread.ts).
  const open = () => PGliteThread.open(dir);
  const free = statfsReader(dir);
  const recovery: PGliteRecovery = {
    logger,
    // Not before STORAGE_MIN_FREE_BYTES are free again: PGlite cannot even start on a full disk.
    reopen: async () => {
      const bytes = await free();
      if (bytes < config.STORAGE_MIN_FREE_BYTES) throw new Error(`only ${formatBytes(bytes)} free under DATA_DIR`);
      return open();
    },
  };
  return wrapPGlite(await open(), { dataDir: dir, recovery });
}

const BYTEA = 17;

function byteaBytes(value: unknown): Buffer {
  if (!(value instanceof Uint8Array)) throw new Error('Invalid input for bytea type'); // as PGlite's own codec
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * bytea as hex through Buffer (native) both ways: PGlite's own codec converts a byte at a time
 * in JavaScript, which held its one session for about half a second per MB. Values come back
 * as Buffers, as on PostgreSQL. `server/workers/pglite.mjs` repeats this codec.
 */
export const PGLITE_BYTEA = {
  serializers: { [BYTEA]: (value: unknown) => `\\x${byteaBytes(value).toString('hex')}` },
  parsers: { [BYTEA]: (text: string) => Buffer.from(text.slice(2), 'hex') },
} satisfies PGliteOptions;

/** PGlite with pgvector, so the embedded database has vector search too, and fast bytea. */
export const PGLITE_OPTIONS = { extensions: { vector }, ...PGLITE_BYTEA } satisfies PGliteOptions;

/** Wraps an open PGlite instance (tests pass in-memory instances); `recovery`: see pglite-dialect.ts. */
export function wrapPGlite(pglite: PGliteSession, options: { dataDir?: string; recovery?: PGliteRecovery } = {}): Database {
  const database = toDatabase(new Kysely<Schema>({ dialect: new PGliteDialect(pglite, options.recovery) }), 'pglite');
  return options.dataDir ? { ...database, dataDir: options.dataDir } : database;
}

function toDatabase(db: Db, kind: Database['kind'], pool?: pg.Pool): Database {
  return {
    db,
    kind,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
    ...(pool ? { poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }) } : {}),
  };
}

export function openPostgres(url: string, config: Omit<DatabaseConfig, 'DATABASE_URL' | 'DATA_DIR' | 'STORAGE_MIN_FREE_BYTES'>, logger: Logger): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: config.DB_POOL_MAX,
    idleTimeoutMillis: config.DB_IDLE_TIMEOUT_MS,
    connectionTimeoutMillis: config.DB_CONNECT_TIMEOUT_MS,
    statement_timeout: config.DB_STATEMENT_TIMEOUT_MS || undefined,
    application_name: 'bastion',
  });
  // An idle client losing its server emits 'error' on the pool; without a listener
  // Node would crash. The pool drops the client and the next query reconnects.
  pool.on('error', (error) => logger.warn({ err: { message: error.message } }, 'database connection lost'));
  // A checked-out client has no pool listener; its in-flight query already rejects,
  // so the event only needs to be absorbed rather than crash the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return toDatabase(new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) }), 'postgres', pool);
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** True for errors that mean "the database cannot serve right now" rather than a bug. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_CODES.has(code)) return true;
    // SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention:
    // shutdown, statement timeout / query_canceled).
    if (/^(08|53|57)[0-9A-Z]{3}$/.test(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(error.message);
}
