/**
 * The embedded default on a nearly full disk (DATA_DIR on a small tmpfs, mounted for the
 * test): changes are refused with 507 before they start while reads and sign-in work,
 * /readyz reports storage low, writes resume by themselves when space returns; and a disk
 * filled behind Bastion's back makes the database fail fast and reopen, never hang.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrator.js';
import { FREE_SPACE_CACHE_MS, statfsReader } from '../../src/platform/storage/free-space.js';
import { buildTestApp, silentLogger, tempDir, TEST_DATABASE_URL, TEST_RUN, testConfig, waitFor, type TestApp } from '../harness.js';
import { PASSWORD } from '../accounts.js';
import { person } from '../privacy-fixtures.js';
import { multipart } from '../uploads.js';

const SERVER_DIR = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1024 * 1024;

/** Root may mount a tmpfs here; elsewhere (a developer's laptop) the suite cannot run. */
const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;

const mounts: string[] = [];
async function tmpfs(sizeMiB: number): Promise<string> {
  const dir = await tempDir('tmpfs');
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`mount failed: ${result.stderr}`);
  mounts.push(dir);
  return dir;
}

/** Writes a file of `bytes` (so that `free` is left), returning a function that deletes it. */
async function ballast(dir: string, leaveFreeBytes: number): Promise<() => Promise<void>> {
  const free = await statfsReader(dir)();
  const file = path.join(dir, `ballast-${Date.now()}`);
  const handle = await fs.open(file, 'w');
  const block = Buffer.alloc(MiB, 1);
  for (let left = free - leaveFreeBytes; left > 0; left -= block.length) await handle.write(block, 0, Math.min(block.length, left));
  await handle.close();
  return () => fs.rm(file, { force: true });
}

afterAll(() => {
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
});

// The guard protects the embedded database; on PostgreSQL it is off (health tests check that).
describe.runIf(canMount && !TEST_DATABASE_URL)('a nearly full disk under DATA_DIR (embedded database)', () => {
  let dataDir: string;
  let database: Database;
  let t: TestApp;

  beforeAll(async () => {
    dataDir = await tmpfs(160);
    const config = testConfig({ DATA_DIR: dataDir, STORAGE_MIN_FREE_BYTES: String(48 * MiB) });
    database = await openDatabase(config, silentLogger);
    await migrate(database.db);
    t = await buildTestApp({ database, env: { DATA_DIR: dataDir, STORAGE_MIN_FREE_BYTES: String(48 * MiB), REQUIRE_MFA: 'none' } });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await database?.close();
  });

  it('refuses changes with 507 naming the setting, keeps reads and sign-in, and resumes when space returns', async () => {
    const someone = await person(t, 'disk');
    expect((await t.app.inject({ url: '/readyz' })).json().checks.storage).toBe('ok');

    const release = await ballast(dataDir, 40 * MiB); // under the 48 MiB kept free
    expect(await waitFor(async () => (await t.app.inject({ url: '/readyz' })).json().checks.storage === 'low', 5_000)).toBe(true);
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200); // still serving reads: stays in rotation

    const refused = await someone.api.post('/knowledge-bases', { name: 'Refused' });
    expect(refused.statusCode).toBe(507);
    expect(refused.json().error.code).toBe('insufficient_storage');
    expect(refused.json().error.message).toContain('STORAGE_MIN_FREE_BYTES');
    const bases = await someone.api.get('/knowledge-bases');
    expect(bases.statusCode).toBe(200);
    expect(bases.body).not.toContain('Refused');
    expect((await someone.browser.signIn(someone.email, PASSWORD)).statusCode).toBe(200); // sign-in writes, and is allowed

    await release();
    expect(await waitFor(async () => (await someone.api.post('/knowledge-bases', { name: 'After' })).statusCode === 201, 5_000)).toBe(true);
    expect((await t.app.inject({ url: '/readyz' })).json().checks.storage).toBe('ok');
  }, 60_000);

  it('refuses an upload that would not fit above the threshold before storing any of it', async () => {
    const someone = await person(t, 'upload');
    const base = await someone.api.post('/knowledge-bases', { name: 'Uploads' });
    expect(base.statusCode, base.body).toBe(201);
    const release = await ballast(dataDir, 60 * MiB); // 12 MiB above the threshold
    await new Promise((resolve) => setTimeout(resolve, FREE_SPACE_CACHE_MS + 100)); // the guard measures again
    try {
      const big = multipart('big.txt', 'word '.repeat((4 * MiB) / 5), 'text/plain'); // 4 MiB needs about 20 MiB
      const refused = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${base.json().id}/documents`, headers: { ...someone.api.headers(), ...big.headers }, payload: big.payload });
      expect(refused.statusCode, refused.body).toBe(507);
      expect(refused.json().error.message).toMatch(/smaller file/);
      const small = multipart('small.txt', 'A small note that fits.', 'text/plain');
      const stored = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${base.json().id}/documents`, headers: { ...someone.api.headers(), ...small.headers }, payload: small.payload });
      expect(stored.statusCode, stored.body).toBe(202);
      const documents = (await someone.api.get(`/knowledge-bases/${base.json().id}/documents`)).json();
      expect(JSON.stringify(documents)).not.toContain('big.txt');
    } finally {
      await release();
    }
  }, 60_000);
});

describe.runIf(canMount && !TEST_DATABASE_URL)('the embedded database when the disk fills behind its back', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('fails statements at once instead of hanging, and reopens with its data once space is back', async () => {
    const dataDir = await tmpfs(96);
    const release = await ballast(dataDir, 64 * MiB); // 32 MiB reserved for later, 64 MiB to fill
    const events: Record<string, unknown>[] = [];
    let output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'test/disk-full/fill-database.ts', dataDir, String(8 * MiB)], {
      cwd: SERVER_DIR,
      env: { PATH: TEST_RUN.path },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of chunk.toString().split('\n').filter(Boolean)) events.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const event = (name: string) => events.find((e) => e.event === name);

    expect(await waitFor(async () => event('after-full') !== undefined || child!.exitCode !== null, 90_000, 100), output).toBe(true);
    expect(event('full'), output).toMatchObject({ code: '53100' });
    expect(event('full')!.rows as number).toBeGreaterThan(50);
    // The statement after the failure answers at once (a 503 upstream), not after a spin.
    expect(event('after-full'), output).toMatchObject({ ok: false, code: '53100' });
    expect(event('after-full')!.ms as number).toBeLessThan(1_000);

    const freedAt = Date.now();
    await release();
    expect(await waitFor(async () => event('recovered') !== undefined, 20_000, 100), output).toBe(true);
    // Every row committed before the disk filled is there, and the new one.
    expect(event('recovered')!.count).toBe((event('full')!.rows as number) + 1);
    expect((event('recovered')!.at as number) - freedAt).toBeLessThan(10_000);
    expect(await waitFor(async () => event('closed') !== undefined, 20_000, 100), output).toBe(true);
  }, 150_000);
});
