/**
 * A database of its own for one bench run, beside the one DATABASE_URL names (used as the
 * admin connection only): Bastion migrates into it and keys its data with the run's master
 * key, so a later run with a new DATA_DIR never meets rows it cannot decrypt.
 */
import { sql } from 'kysely';
import { createLogger } from '../../server/src/platform/log.js';
import { openPostgres } from '../../server/src/platform/db/database.js';

const ADMIN_POOL = { DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: 30_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 5_000 };

async function admin<T>(adminUrl: string, work: (db: ReturnType<typeof openPostgres>['db']) => Promise<T>): Promise<T> {
  const connection = openPostgres(adminUrl, ADMIN_POOL, createLogger('silent'));
  try {
    return await work(connection.db);
  } finally {
    await connection.close();
  }
}

/** `<admin database>_<suffix>`, dropped first if an earlier run left it; its URL. */
export async function freshDatabase(adminUrl: string, suffix: string): Promise<string> {
  const name = `${new URL(adminUrl).pathname.slice(1) || 'bastion'}_${suffix}`.replace(/[^a-z0-9_]/gi, '_');
  // DDL takes no bound parameters: the name goes through sql.id (a quoted identifier).
  await admin(adminUrl, async (db) => {
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(db);
    await sql`create database ${sql.id(name)}`.execute(db);
  });
  return Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
}

export async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  await admin(adminUrl, (db) => sql`drop database if exists ${sql.id(new URL(url).pathname.slice(1))} with (force)`.execute(db));
}
