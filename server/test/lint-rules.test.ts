/** The house lint rules fire on the code they exist to stop. */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

async function ruleIds(code: string, filePath = 'server/src/modules/things/repo.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? 'fatal');
}

describe('lint: no string-built SQL', () => {
  it.each([
    ['sql.raw', "import { sql } from 'kysely';\nexport const q = (name: string) => sql.raw(`select * from t where name = '${name}'`);"],
    ['sql.lit', "import { sql } from 'kysely';\nexport const q = (name: string) => sql`select ${sql.lit(name)}`;"],
    ['CompiledQuery.raw', "import { CompiledQuery } from 'kysely';\nexport const q = (id: string) => CompiledQuery.raw('select ' + id);"],
    ['interpolated query()', 'export const q = (pool: { query(s: string): void }, id: string) => pool.query(`select * from t where id = ${id}`);'],
    ['concatenated query()', "export const q = (pool: { query(s: string): void }, id: string) => pool.query('select * from t where id = ' + id);"],
    ['interpolated exec()', 'export const q = (db: { exec(s: string): void }, t: string) => db.exec(`drop table ${t}`);'],
  ])('rejects %s', async (_label, code) => {
    expect(await ruleIds(code)).toContain('no-restricted-syntax');
  });

  it('accepts the sql template and bound parameters', async () => {
    const code = [
      "import { sql } from 'kysely';",
      'export const a = (id: string) => sql`select * from t where id = ${id}`;',
      "export const b = (pool: { query(s: string, v: unknown[]): void }, id: string) => pool.query('select * from t where id = $1', [id]);",
    ].join('\n');
    expect(await ruleIds(code)).toEqual([]);
  });
});

describe('lint: process.env only in config/load.ts', () => {
  it('rejects process.env elsewhere in the server', async () => {
    expect(await ruleIds('export const port = process.env.PORT;', 'server/src/http/thing.ts')).toContain('no-restricted-properties');
  });

  it('allows it in config/load.ts', async () => {
    expect(await ruleIds('export const port = process.env.PORT;', 'server/src/config/load.ts')).toEqual([]);
  });

  it('rejects it in the rest of config/', async () => {
    expect(await ruleIds('export const port = process.env.PORT;', 'server/src/config/groups/server.ts')).toContain('no-restricted-properties');
  });
});
