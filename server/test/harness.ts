/**
 * Shared test harness: the real app on real backends.
 *
 * - Database: PGlite in memory, or a per-worker PostgreSQL database when
 *   DATABASE_URL is set; created and migrated once per worker, emptied between tests.
 * - Store: the in-memory store, or Redis under a per-worker key prefix when REDIS_URL is set.
 */
import { Writable } from 'node:stream';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { buildApp, type AppDeps } from '../src/app.js';
import { type App } from '../src/http/app-type.js';
import { loadConfig, testRunSettings, type Config, type Env } from '../src/config/index.js';
import { createLogger } from '../src/platform/log.js';
import { openPostgres, PGLITE_OPTIONS, wrapPGlite, type Database } from '../src/platform/db/database.js';
import { migrate } from '../src/platform/db/migrator.js';
import { Encryptor } from '../src/platform/crypto/envelope.js';
import { Keyring } from '../src/platform/crypto/keyring.js';
import { generateMasterKey } from '../src/platform/crypto/master-keys.js';
import { systemClock, type Clock } from '../src/platform/clock.js';
import { OutboxMailer, SmtpMailer } from '../src/platform/mail/mailer.js';
import { MemoryStore } from '../src/platform/store/memory-store.js';
import { RedisStore } from '../src/platform/store/redis-store.js';
import type { Store } from '../src/platform/store/store.js';

export const TEST_RUN = testRunSettings();
export const TEST_DATABASE_URL = TEST_RUN.databaseUrl;
export const TEST_REDIS_URL = TEST_RUN.redisUrl;
const WORKER = TEST_RUN.workerId;

/** One random master key per test process (as a set, for child processes' MASTER_KEYS). */
export const testMasterKeys = (() => {
  const key = generateMasterKey();
  return { keys: [key], activeId: key.id };
})();
export const testKeyring = new Keyring(testMasterKeys);

export const silentLogger: Logger = createLogger('silent');

/**
 * A validated test configuration; the backends come from the harness, not from it. Load
 * shedding is off unless a test turns it on: PGlite runs on the test's event loop, and a
 * long query in one test would otherwise make another test's app answer 503.
 */
export function testConfig(overrides: Env = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: os.tmpdir(), OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...overrides });
}

const POOL = { DB_POOL_MAX: 5, DB_STATEMENT_TIMEOUT_MS: 15_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 2_000 };

/** Creates (or recreates) an empty PostgreSQL database next to DATABASE_URL's and returns its URL. */
export async function createPostgresDatabase(name: string): Promise<string> {
  if (!TEST_DATABASE_URL) throw new Error('DATABASE_URL is not set');
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`unexpected database name ${name}`);
  // Dropping and creating a database waits on the whole server's I/O: on a busy machine (two test
  // workers, other suites' servers) it has taken longer than the tests' 15-s statement timeout.
  const admin = openPostgres(TEST_DATABASE_URL, { ...POOL, DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: 60_000 }, silentLogger);
  try {
    // DDL takes no bound parameters: the name goes through sql.id (quoted identifier).
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
    await sql`create database ${sql.id(name)}`.execute(admin.db);
  } finally {
    await admin.close();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export function postgresDatabaseName(suffix: string): string {
  const base = new URL(TEST_DATABASE_URL ?? 'postgres://x/test').pathname.slice(1) || 'test';
  return `${base}_${suffix}_w${WORKER}`.toLowerCase();
}

/** Opens a brand-new, unmigrated database of the kind under test. */
export async function freshDatabase(suffix: string): Promise<Database> {
  if (TEST_DATABASE_URL) return openPostgres(await createPostgresDatabase(postgresDatabaseName(suffix)), POOL, silentLogger);
  return wrapPGlite(await PGlite.create(PGLITE_OPTIONS));
}

interface Shared {
  database?: Promise<Database>;
}
const shared: Shared = ((globalThis as { __bastionTest?: Shared }).__bastionTest ??= {});

/** The worker's migrated database, emptied of rows (schema_migrations excepted). */
export async function testDatabase(): Promise<Database> {
  shared.database ??= (async () => {
    const database = await freshDatabase('shared');
    await migrate(database.db);
    return database;
  })();
  const database = await shared.database;
  await truncateAll(database);
  return database;
}

async function truncateAll(database: Database): Promise<void> {
  const tables = await sql<{ tablename: string }>`
    select tablename from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations'`.execute(database.db);
  if (tables.rows.length === 0) return;
  // Background work of the previous test (an ingestion job, a webhook run) may still hold
  // row locks; truncate then loses a deadlock. Try again: that work finds its rows gone.
  for (let attempt = 1; ; attempt++) {
    try {
      // Replica mode skips triggers: the audit tables refuse TRUNCATE otherwise (migrations/0014_audit.sql).
      await database.db.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        await sql`truncate table ${sql.join(tables.rows.map((t) => sql.id(t.tablename)))} restart identity cascade`.execute(trx);
      });
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** A store of the kind under test, empty. Close it after the test. */
export async function testStore(options: { now?: () => number } = {}): Promise<Store> {
  if (!TEST_REDIS_URL) return new MemoryStore({ maxKeys: 10_000, sweepIntervalMs: 0, ...(options.now ? { now: options.now } : {}) });
  const prefix = `bastion-test:w${WORKER}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
  const store = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 2_000, logger: silentLogger });
  await store.ready();
  return store;
}

/** Collects log lines written by the app so tests can read them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  }
  get text(): string {
    return this.lines.join('\n');
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export interface TestAppOptions {
  env?: Env;
  store?: Store;
  database?: Database;
  logs?: LogCapture;
  webRoot?: string | null;
  clock?: Clock;
  /** SMTP URL of a sink; default: the encrypted outbox. */
  smtpUrl?: string;
  deprecations?: AppDeps['deprecations'];
  /** Re-enqueue unfinished documents when ready, as `bastion serve` does. */
  recoverIngestion?: boolean;
  /** The job queue (default: an in-process one owned by the app). */
  queue?: AppDeps['queue'];
  /** Registers extra routes before the app is ready (probes for cross-cutting behaviour). */
  routes?: (app: App) => void | Promise<void>;
  /** The master keys (default: the test process's one key). */
  keyring?: Keyring;
}

export interface TestApp {
  app: App;
  encryptor: Encryptor;
  config: Config;
  database: Database;
  store: Store;
  close(): Promise<void>;
}

/** Boots the real app on the harness's backends. */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig({ ...(options.logs ? { LOG_LEVEL: 'info' } : {}), ...options.env });
  const logger = options.logs ? createLogger(config.LOG_LEVEL, options.logs) : silentLogger;
  const database = options.database ?? (await testDatabase());
  const ownStore = options.store === undefined;
  const store = options.store ?? (await testStore());
  const encryptor = new Encryptor(database.db, options.keyring ?? testKeyring);
  const clock = options.clock ?? systemClock;
  const mailer = options.smtpUrl ? new SmtpMailer(options.smtpUrl, config.MAIL_FROM) : new OutboxMailer(database.db, encryptor, clock, logger);
  const app = await buildApp({
    config,
    logger,
    database,
    store,
    encryptor,
    mailer,
    clock,
    webRoot: options.webRoot ?? null,
    ...(options.deprecations ? { deprecations: options.deprecations } : {}),
    ...(options.recoverIngestion ? { recoverIngestion: true } : {}),
    ...(options.queue ? { queue: options.queue } : {}),
  });
  await options.routes?.(withPublicDefault(app));
  await app.ready();
  return {
    app,
    encryptor,
    config,
    database,
    store,
    close: async () => {
      await app.close();
      if (ownStore) await store.close();
    },
  };
}

/** Test probe routes are public unless they say otherwise (every /api route must declare access). */
function withPublicDefault(app: App): App {
  return new Proxy(app, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof property !== 'string' || !['get', 'post', 'put', 'patch', 'delete'].includes(property)) return value;
      return (url: string, ...rest: unknown[]) => {
        const handler = rest.pop();
        const options = (rest[0] ?? {}) as { config?: Record<string, unknown> };
        return (value as (...args: unknown[]) => unknown).call(target, url, { ...options, config: { access: 'public', ...options.config } }, handler);
      };
    },
  });
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `bastion-${prefix}-`));
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return false;
}
