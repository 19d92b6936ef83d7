/** `bastion audit verify|export` run as an operator runs them: exit codes and output. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import { runAudit } from '../../cli/audit.js';
import { createPostgresDatabase, postgresDatabaseName, silentLogger, tempDir, TEST_DATABASE_URL, TEST_RUN } from '../../../test/harness.js';
import { loadConfig } from '../../config/index.js';
import { systemClock } from '../../platform/clock.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import { loadKeyring } from '../../platform/crypto/keyring.js';
import { openDatabase, type Database } from '../../platform/db/database.js';
import { migrate } from '../../platform/db/migrator.js';
import { AuditKeys } from './keys.js';
import { AuditLog } from './service.js';

const SERVER_DIR = fileURLToPath(new URL('../../..', import.meta.url));

function bastion(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...args], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, out: result.stdout + result.stderr };
}

/**
 * The command's function in this process, its output captured: each process run of the CLI
 * costs seconds (tsx, then PGlite opening the data directory), so only one check below
 * runs the real process.
 */
async function audit(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void (stdout += `${parts.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void (stderr += `${parts.join(' ')}\n`));
  try {
    const status = await runAudit(loadConfig(env), args);
    return { status, stdout, out: stdout + stderr };
  } finally {
    write.mockRestore();
    log.mockRestore();
    error.mockRestore();
  }
}

/** Opens the CLI's database in this process (PGlite files allow one process at a time: close before running the CLI). */
async function withDb(env: Record<string, string>, run: (database: Database) => Promise<void>): Promise<void> {
  const config = loadConfig(env);
  const database = await openDatabase(config, silentLogger);
  try {
    await migrate(database.db);
    await run(database);
  } finally {
    await database.close();
  }
}

describe('bastion audit', () => {
  it('verifies (exit 0), exports JSON Lines, and names the first broken entry (exit 1)', async () => {
    const env: Record<string, string> = { DATA_DIR: await tempDir('audit') };
    if (TEST_DATABASE_URL) env.DATABASE_URL = await createPostgresDatabase(postgresDatabaseName('audit_cli'));
    await withDb(env, async ({ db }) => {
      const keys = new AuditKeys(db, new Encryptor(db, loadKeyring(loadConfig(env), silentLogger).keyring), systemClock);
      const log = new AuditLog(db, keys, systemClock, silentLogger, { checkpointEvery: 5, checkpointIntervalMs: 0 });
      for (let i = 1; i <= 7; i++) await log.record({ actor: { type: 'system', userId: null }, action: 'agent.updated', target: { type: 'agent', id: `a${i}` }, details: { version: i } });
    });

    // The one real process run: the command as an operator types it.
    const ok = bastion(['audit', 'verify'], env);
    expect(ok.status, ok.out).toBe(0);
    expect(ok.out).toContain('Audit log OK: 7 entries, 1 signed checkpoint(s).');

    const exported = await audit(['export', '--from', '2', '--to', '4'], env);
    expect(exported.status, exported.out).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { seq: number; action: string; hash: string; prevHash: string });
    expect(lines.map((l) => l.seq)).toEqual([2, 3, 4]);
    expect(lines[1]!.prevHash).toBe(lines[0]!.hash);
    expect((await audit(['export', '--from', '1; drop table audit_entries'], env)).status).toBe(2);
    expect((await audit(['export', '--from', '5', '--to', '2'], env)).status).toBe(2);

    await withDb(env, async ({ db }) => {
      await db.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        await trx.deleteFrom('audit_entries').where('seq', '=', '3').execute();
      });
    });
    const broken = await audit(['verify'], env);
    expect(broken.status, broken.out).toBe(1);
    expect(broken.out).toMatch(/BROKEN at entry 3 \(deleted\): entry 3 is missing/);
    // One process run and seven openings of the data directory: about 15 s on a loaded 2-core machine.
  }, 60_000);
});
