/**
 * Sensitive data identified and classified (ASVS 5.0 V14.1.1): every table of the migrated
 * database has a protection level in security/data-classification.json, nothing there names
 * a table that no longer exists, and every column said to be encrypted or hashed is stored so
 * (ciphertext as bytea, a hash as text): a new table, or a secret moved to a clear column,
 * fails here until it is classified.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../harness.js';
import type { Database } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrator.js';

interface Classification {
  levels: Record<string, string>;
  tables: Record<string, { level: string; columns?: Record<string, string> }>;
}

const FILE = fileURLToPath(new URL('../../../security/data-classification.json', import.meta.url));
const classification = JSON.parse(fs.readFileSync(FILE, 'utf8')) as Classification;
let database: Database;
let columns: Map<string, Map<string, string>>;

beforeAll(async () => {
  // A database of its own, migrated and nothing else: the worker's shared one also holds the
  // scratch tables other test files create (envelope.test.ts), which are not part of the schema.
  database = await freshDatabase('classification');
  await migrate(database.db);
  const rows = await sql<{ table_name: string; column_name: string; udt_name: string }>`
    select c.table_name, c.column_name, c.udt_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = 'public' and t.table_type = 'BASE TABLE'`.execute(database.db);
  columns = new Map();
  for (const row of rows.rows) {
    if (!columns.has(row.table_name)) columns.set(row.table_name, new Map());
    columns.get(row.table_name)!.set(row.column_name, row.udt_name);
  }
});

afterAll(async () => {
  await database.close();
});

describe('data classification (security/data-classification.json)', () => {
  it('gives every table of the database a protection level, and names no other table [ASVS 14.1.1]', () => {
    expect(columns.size).toBeGreaterThan(30);
    expect(Object.keys(classification.tables).sort()).toEqual([...columns.keys()].sort());
    for (const [table, entry] of Object.entries(classification.tables)) expect(Object.keys(classification.levels), table).toContain(entry.level);
  });

  it('stores every column said to be encrypted as ciphertext and every hashed one as a hash, and names only real columns [ASVS 14.1.1]', () => {
    const problems: string[] = [];
    for (const [table, entry] of Object.entries(classification.tables)) {
      for (const [column, protection] of Object.entries(entry.columns ?? {})) {
        const type = columns.get(table)?.get(column);
        if (!type) problems.push(`${table}.${column}: no such column`);
        else if (protection === 'encrypted' && type !== 'bytea') problems.push(`${table}.${column}: said to be encrypted, stored as ${type}`);
        else if (protection === 'hashed' && type !== 'text') problems.push(`${table}.${column}: said to be hashed, stored as ${type}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has a column saying how each secret is kept, and every bytea column is accounted for [ASVS 14.1.1]', () => {
    for (const [table, entry] of Object.entries(classification.tables)) {
      if (entry.level === 'secret') expect(Object.keys(entry.columns ?? {}).length, `${table}: which column is the secret, and how is it kept?`).toBeGreaterThan(0);
      for (const [column, type] of columns.get(table) ?? []) {
        if (type === 'bytea') expect(entry.columns?.[column], `${table}.${column} holds bytes: say how it is protected`).toBeDefined();
      }
    }
  });
});
