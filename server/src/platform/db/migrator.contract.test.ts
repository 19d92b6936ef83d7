/**
 * Migrator contract, on PGlite always and on PostgreSQL when DATABASE_URL is set.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabase, silentLogger, tempDir, TEST_DATABASE_URL } from '../../../test/harness.js';
import { openPostgres, type Database } from './database.js';
import { migrate, MigrationError, readMigrations } from './migrator.js';

const kind = TEST_DATABASE_URL ? 'postgres' : 'pglite';
const opened: Database[] = [];

async function fresh(): Promise<Database> {
  const database = await freshDatabase('migrator');
  opened.push(database);
  return database;
}

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('migrations');
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text);
  return dir;
}

async function tableExists(database: Database, table: string): Promise<boolean> {
  const result = await sql<{ exists: boolean }>`select to_regclass(${table}) is not null as exists`.execute(database.db);
  return result.rows[0]?.exists === true;
}

async function appliedVersions(database: Database): Promise<number[]> {
  const rows = await database.db.selectFrom('schema_migrations').select('version').orderBy('version').execute();
  return rows.map((r) => r.version);
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

describe(`migrator on ${kind}`, () => {
  it('applies the project migrations once and is idempotent', async () => {
    const database = await fresh();
    const files = await readMigrations();
    const first = await migrate(database.db);
    expect(first.applied.map((m) => m.version)).toEqual(files.map((m) => m.version));
    expect(await tableExists(database, 'instance_settings')).toBe(true);
    const second = await migrate(database.db);
    expect(second.applied).toEqual([]);
    expect(second.current).toBe(files.at(-1)?.version);
    expect(await appliedVersions(database)).toEqual(files.map((m) => m.version));
  });

  it('applies each migration exactly once when started concurrently', async () => {
    const database = await fresh();
    const dir = await migrationsDir({
      '0001_one.sql': 'create table one (id int primary key); insert into one values (1);',
      '0002_two.sql': 'create table two (id int primary key); select pg_sleep(0.2);',
    });
    // A second connection pool on the same database is a second process as far as
    // PostgreSQL is concerned; PGlite has one session, so both calls share it.
    const other = TEST_DATABASE_URL ? openPostgres(new URL(await dbUrl(database)).toString(), pool, silentLogger) : database;
    if (other !== database) opened.push(other);
    const results = await Promise.all([migrate(database.db, dir), migrate(other.db, dir), migrate(database.db, dir)]);
    expect(results.flatMap((r) => r.applied.map((m) => m.version)).sort()).toEqual([1, 2]);
    expect(await appliedVersions(database)).toEqual([1, 2]);
    const rows = await sql<{ n: number }>`select count(*)::int as n from one`.execute(database.db);
    expect(rows.rows[0]?.n).toBe(1);
  });

  it('rolls a failing migration back completely and stops there', async () => {
    const database = await fresh();
    const dir = await migrationsDir({
      '0001_ok.sql': 'create table ok_table (id int primary key);',
      '0002_broken.sql': 'create table half_done (id int primary key);\ninsert into ok_table values (1);\nselect * from no_such_table;',
      '0003_later.sql': 'create table later (id int);',
    });
    await expect(migrate(database.db, dir)).rejects.toThrow(/Migration 2 \(broken\) failed and was rolled back/);
    expect(await appliedVersions(database)).toEqual([1]);
    expect(await tableExists(database, 'half_done')).toBe(false);
    expect(await tableExists(database, 'later')).toBe(false);
    const rows = await sql<{ n: number }>`select count(*)::int as n from ok_table`.execute(database.db);
    expect(rows.rows[0]?.n).toBe(0);
  });

  it('refuses a migration that changed after it was applied', async () => {
    const database = await fresh();
    const dir = await migrationsDir({ '0001_a.sql': 'create table a (id int);' });
    await migrate(database.db, dir);
    await fs.writeFile(path.join(dir, '0001_a.sql'), 'create table a (id bigint);');
    await expect(migrate(database.db, dir)).rejects.toThrow(/was changed after it was applied/);
  });

  it('refuses to run against a database with migrations it does not know', async () => {
    const database = await fresh();
    const dir = await migrationsDir({ '0001_a.sql': 'select 1;', '0002_b.sql': 'select 1;' });
    await migrate(database.db, dir);
    await fs.rm(path.join(dir, '0002_b.sql'));
    await expect(migrate(database.db, dir)).rejects.toThrow(MigrationError);
    await expect(migrate(database.db, dir)).rejects.toThrow(/does not know/);
  });

  it('rejects badly named or duplicate migration files', async () => {
    await expect(readMigrations(await migrationsDir({ 'add_users.sql': 'select 1;' }))).rejects.toThrow(/must look like/);
    await expect(readMigrations(await migrationsDir({ '0001_a.sql': '', '0001_b.sql': '' }))).rejects.toThrow(/share version 1/);
  });
});

const pool = { DB_POOL_MAX: 2, DB_STATEMENT_TIMEOUT_MS: 10_000, DB_IDLE_TIMEOUT_MS: 5_000, DB_CONNECT_TIMEOUT_MS: 2_000 };

async function dbUrl(database: Database): Promise<string> {
  const result = await sql<{ name: string }>`select current_database() as name`.execute(database.db);
  const url = new URL(TEST_DATABASE_URL!);
  url.pathname = `/${result.rows[0]!.name}`;
  return url.toString();
}
