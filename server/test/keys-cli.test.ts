/**
 * `bastion keys` end to end, as an operator runs it: the embedded key file is generated
 * with mode 0600, rotate adds and activates a key, retire refuses while data keys use
 * the old key, rewrap moves them, then retire succeeds and every record still decrypts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/platform/db/database.js';
import { migrate } from '../src/platform/db/migrator.js';
import { Encryptor } from '../src/platform/crypto/envelope.js';
import { Keyring, readKeyFile } from '../src/platform/crypto/keyring.js';
import { generateMasterKey } from '../src/platform/crypto/master-keys.js';
import { createPostgresDatabase, postgresDatabaseName, silentLogger, tempDir, TEST_DATABASE_URL, TEST_RUN } from './harness.js';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));

function keys(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', 'keys', ...args], {
    cwd: SERVER_DIR,
    env: { PATH: TEST_RUN.path, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, out: result.stdout + result.stderr };
}

describe('bastion keys', () => {
  it('rotates, refuses early retirement, re-wraps and retires on the configured database [ASVS 11.2.2, 13.3.4]', async () => {
    const dataDir = await tempDir('keys');
    const env: Record<string, string> = { DATA_DIR: dataDir };
    if (TEST_DATABASE_URL) env.DATABASE_URL = await createPostgresDatabase(postgresDatabaseName('keys'));
    const keyFile = path.join(dataDir, 'master-keys');

    const status = keys(['status'], env);
    expect(status.status, status.out).toBe(0);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const original = readKeyFile(keyFile);
    expect(status.out).toContain(`* ${original.activeId}  wraps 0 data key(s)`);

    // Write records with the generated key, as the server would.
    const config = loadConfig(env);
    const database = await openDatabase(config, silentLogger);
    await migrate(database.db);
    const box = new Encryptor(database.db, new Keyring(original));
    const blobs = await Promise.all([1, 2, 3].map((i) => box.encrypt({ scope: 'workspace', id: `w${i}` }, { table: 't', column: 'c', rowId: `${i}` }, `secret ${i}`)));
    await database.close();

    const rotate = keys(['rotate'], env);
    expect(rotate.status, rotate.out).toBe(0);
    const rotated = readKeyFile(keyFile);
    expect(rotated.keys).toHaveLength(2);
    expect(rotated.activeId).not.toBe(original.activeId);

    const early = keys(['retire', original.activeId], env);
    expect(early.status).toBe(1);
    expect(early.out).toMatch(/still wraps 3 data key\(s\)/);
    expect(keys(['retire', rotated.activeId], env).out).toMatch(/active key/);

    const rewrap = keys(['rewrap'], env);
    expect(rewrap.status, rewrap.out).toBe(0);
    expect(rewrap.out).toContain('rewrap: 3/3 data keys');
    expect(keys(['rewrap'], env).out).toContain('Re-wrapped 0 data key(s)');

    const retire = keys(['retire', original.activeId], env);
    expect(retire.status, retire.out).toBe(0);
    const final = readKeyFile(keyFile);
    expect(final.keys.map((k) => k.id)).toEqual([rotated.activeId]);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);

    const reopened = await openDatabase(config, silentLogger);
    const after = new Encryptor(reopened.db, new Keyring(final));
    for (const [index, blob] of blobs.entries()) {
      expect(await after.decryptText({ table: 't', column: 'c', rowId: `${index + 1}` }, blob)).toBe(`secret ${index + 1}`);
    }
    await reopened.close();
  }, 120_000);

  it('prints the new MASTER_KEYS value when keys come from the environment', () => {
    const key = generateMasterKey();
    const result = keys(['rotate'], { MASTER_KEYS: `${key.id}:${key.key.toString('base64')}`, DATA_DIR: '/nonexistent-bastion' });
    expect(result.status, result.out).toBe(0);
    const line = result.out.split('\n').find((l) => l.startsWith('MASTER_KEYS='));
    expect(line).toBeDefined();
    const entries = line!.slice('MASTER_KEYS='.length).split(',');
    expect(entries).toHaveLength(2);
    expect(entries[0]).toBe(`${key.id}:${key.key.toString('base64')}`);
    expect(entries[1]).toMatch(/^\*k\d{8}[0-9a-f]{6}:/);
    expect(fs.existsSync('/nonexistent-bastion')).toBe(false);
  });

  it('rotates the JWT signing key [ASVS 13.3.4]', async () => {
    const env: Record<string, string> = { DATA_DIR: await tempDir('jwt') };
    if (TEST_DATABASE_URL) env.DATABASE_URL = await createPostgresDatabase(postgresDatabaseName('jwt'));
    const first = keys(['rotate-jwt'], env);
    expect(first.status, first.out).toBe(0);
    const second = keys(['rotate-jwt'], env);
    const kid = (out: string) => /New JWT signing key "([^"]+)"/.exec(out)?.[1];
    expect(kid(first.out)).toBeDefined();
    expect(kid(second.out)).not.toBe(kid(first.out));
  }, 60_000);

  it('generates distinct valid keys', () => {
    const a = keys(['generate'], {}).out.trim();
    const b = keys(['generate'], {}).out.trim();
    expect(a).toMatch(/^k\d{8}[0-9a-f]{6}:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
  });
});
