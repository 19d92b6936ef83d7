/**
 * The claim on DATA_DIR decides who may open the embedded database: a live holder refuses
 * everyone else, a dead one (crash, kill -9, recycled pid, another machine that stopped
 * touching the file) does not lock the directory forever. The real processes are in
 * server/test/embedded-lock.test.ts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger, tempDir, testConfig } from '../../../test/harness.js';
import { CLAIM_FILE, CLAIM_STALE_MS, claimDataDir, DataDirInUseError, type ClaimRecord } from './data-dir-claim.js';
import { openDatabase } from './database.js';

const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
afterAll(() => {
  sleeper.kill('SIGKILL');
});

/** A claim file as another process would have left it: this process's record with changes. */
async function plant(changes: Partial<ClaimRecord>, mtime?: Date): Promise<string> {
  const dir = await tempDir('claim');
  const own = claimDataDir(dir, 'serve');
  const record = JSON.parse(fs.readFileSync(own.file, 'utf8')) as ClaimRecord;
  own.release();
  fs.writeFileSync(path.join(dir, CLAIM_FILE), JSON.stringify({ ...record, ...changes }), { mode: 0o600 });
  if (mtime) fs.utimesSync(path.join(dir, CLAIM_FILE), mtime, mtime);
  return dir;
}

describe('DATA_DIR claim', () => {
  it('is a 0600 file naming this process while held, and gone after release', async () => {
    const dir = await tempDir('claim');
    const claim = claimDataDir(dir, 'serve');
    const stat = fs.statSync(claim.file);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(claim.file, 'utf8'))).toMatchObject({ pid: process.pid, owner: 'serve' });
    expect(fs.readdirSync(dir)).toEqual([CLAIM_FILE]); // nothing left aside
    claim.release();
    claim.release();
    expect(fs.existsSync(claim.file)).toBe(false);
  });

  it('refuses while its holder runs, with a message naming it; a command is told to wait', async () => {
    const dir = await plant({ pid: sleeper.pid!, processStart: null });
    expect(() => claimDataDir(dir, 'command')).toThrow(DataDirInUseError);
    expect(() => claimDataDir(dir, 'command')).toThrow(`Bastion is running with this DATA_DIR (pid ${sleeper.pid}); use the admin screen or stop it first`);
    expect(() => claimDataDir(dir, 'serve')).toThrow(/^Bastion is already running with this DATA_DIR \(pid \d+, since .*\); the embedded database serves one process/);
    const held = await plant({ pid: sleeper.pid!, processStart: null, owner: 'command' });
    expect(() => claimDataDir(held, 'serve')).toThrow(`Another bastion command is using this DATA_DIR (pid ${sleeper.pid}); wait for it to finish`);
  });

  it('takes over the claim of a dead process or a recycled pid', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    for (const dir of [await plant({ pid: dead.pid! }), await plant({ pid: sleeper.pid!, processStart: '1' })]) {
      const claim = claimDataDir(dir, 'serve');
      expect(JSON.parse(fs.readFileSync(claim.file, 'utf8'))).toMatchObject({ pid: process.pid });
      claim.release();
    }
  });

  it('from another pid namespace or machine, trusts the file only while it is touched', async () => {
    const fresh = await plant({ pid: 1, space: 'elsewhere' });
    expect(() => claimDataDir(fresh, 'command')).toThrow(DataDirInUseError);
    const stale = await plant({ pid: 1, space: 'elsewhere' }, new Date(Date.now() - CLAIM_STALE_MS - 1_000));
    claimDataDir(stale, 'command').release();
  });

  it('is checked before the embedded database is touched, and not at all with PostgreSQL', async () => {
    const dir = await plant({ pid: sleeper.pid!, processStart: null });
    await expect(openDatabase(testConfig({ DATA_DIR: dir }), silentLogger, { owner: 'command' })).rejects.toThrow(DataDirInUseError);
    expect(fs.readdirSync(dir)).toEqual([CLAIM_FILE]); // no pgdata opened

    const other = await tempDir('claim-pg');
    const postgres = await openDatabase(testConfig({ DATA_DIR: other, DATABASE_URL: 'postgres://bastion@127.0.0.1:1/none' }), silentLogger);
    expect(fs.readdirSync(other)).toEqual([]);
    await postgres.close();
  });
});
