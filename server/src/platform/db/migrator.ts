/**
 * Forward-only SQL migrations: `migrations/NNNN_name.sql`, applied in order, each
 * in its own transaction, recorded with a checksum in `schema_migrations`.
 * A session advisory lock makes concurrent starts safe: the second process waits,
 * then finds nothing left to do.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompiledQuery, sql } from 'kysely';
import type { Db } from './database.js';

/** Where the project's migrations live (same relative path from src/ and dist/). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

// Arbitrary constant identifying "Bastion migrations" among advisory locks.
const LOCK_ID = 4_242_001;
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  sql: string;
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** Reads and validates the migration files of a directory. */
export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError(`Migration file name "${file}" must look like 0001_create_things.sql`);
    const text = await fs.readFile(path.join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) throw new MigrationError(`Two migrations share version ${version}`);
    migrations.push({ version, name: match[2]!, sql: text, checksum: createHash('sha256').update(text).digest('hex') });
  }
  return migrations;
}

export interface MigrateResult {
  applied: Migration[];
  current: number;
}

/** Applies every pending migration; safe to call from several processes at once. */
export async function migrate(db: Db, dir: string = MIGRATIONS_DIR): Promise<MigrateResult> {
  const migrations = await readMigrations(dir);
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${LOCK_ID})`.execute(conn);
    try {
      await sql`create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`.execute(conn);
      const applied = await conn.selectFrom('schema_migrations').selectAll().orderBy('version').execute();
      verifyHistory(migrations, applied);
      const pending = migrations.filter((m) => !applied.some((a) => a.version === m.version));
      for (const migration of pending) await applyOne(conn, migration);
      const current = migrations.at(-1)?.version ?? 0;
      return { applied: pending, current };
    } finally {
      await sql`select pg_advisory_unlock(${LOCK_ID})`.execute(conn);
    }
  });
}

function verifyHistory(migrations: Migration[], applied: { version: number; name: string; checksum: string }[]): void {
  for (const row of applied) {
    const file = migrations.find((m) => m.version === row.version);
    if (!file) {
      throw new MigrationError(`The database has migration ${row.version} (${row.name}) that this version of Bastion does not know; refusing to run an older release against a newer schema.`);
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(`Migration ${row.version} (${row.name}) was changed after it was applied; migrations are forward-only, add a new one instead.`);
    }
  }
}

async function applyOne(conn: Db, migration: Migration): Promise<void> {
  await sql`begin`.execute(conn);
  try {
    // The script comes from a file in the repository, never from input; it may hold
    // several statements, which only the simple-query path accepts.
    await conn.executeQuery(CompiledQuery.raw(migration.sql));
    await conn.insertInto('schema_migrations').values({ version: migration.version, name: migration.name, checksum: migration.checksum }).execute();
    await sql`commit`.execute(conn);
  } catch (error) {
    await sql`rollback`.execute(conn);
    throw new MigrationError(`Migration ${migration.version} (${migration.name}) failed and was rolled back: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
