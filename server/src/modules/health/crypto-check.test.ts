/**
 * Readiness of the master keys (issue 19, defect 7): a copy started without the master key
 * that wrapped existing data keys, or with other material under its id, answers /readyz
 * 503 with crypto failed and logs the key ids; its encrypted reads answer 503, not 500.
 * The check is cached and sees re-wrapping done by another process without a restart.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, LogCapture, testDatabase, testKeyring, testMasterKeys, type TestApp } from '../../../test/harness.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import { Keyring } from '../../platform/crypto/keyring.js';
import { generateMasterKey } from '../../platform/crypto/master-keys.js';
import { rewrapDataKeys } from '../../platform/crypto/rotation.js';
import { createLogger } from '../../platform/log.js';
import type { Database } from '../../platform/db/database.js';
import { CryptoCheck } from './crypto-check.js';

const binding = { table: 'probe', column: 'secret', rowId: 'r1' };
const testKeyId = testMasterKeys.activeId;

let database: Database;
let sealed: Buffer;
beforeEach(async () => {
  database = await testDatabase();
  // A data key wrapped by the test process's master key, and a record under it.
  sealed = await new Encryptor(database.db, testKeyring).encrypt({ scope: 'instance' }, binding, 'the secret');
});

/** An app on the shared database with `keyring`, a probe route reading the record, its logs. */
async function appWith(keyring: Keyring): Promise<{ t: TestApp; logs: LogCapture }> {
  const logs = new LogCapture();
  const t: TestApp = await buildTestApp({
    database,
    keyring,
    logs,
    routes: (app) => {
      app.get('/probe/decrypt', async () => ({ text: await t.encryptor.decryptText(binding, sealed) }));
    },
  });
  return { t, logs };
}

describe('readiness of the master keys', () => {
  it('fails with the key ids logged while the master key that wrapped the data keys is not configured', async () => {
    const other = generateMasterKey();
    const { t, logs } = await appWith(new Keyring({ keys: [other], activeId: other.id }));
    try {
      const ready = await t.app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'unavailable', checks: { database: 'ok', store: 'ok', crypto: 'failed', storage: 'unchecked' }, error: { code: 'service_unavailable', message: 'Not ready: crypto unavailable.' } });
      expect((await t.app.inject({ url: '/api/v1/readyz' })).json().checks.crypto).toBe('failed');

      // Logged once at start (not once per probe), naming the missing key.
      const missing = logs.records().filter((r) => r.securityEvent === 'crypto.master_key_missing');
      expect(missing).toHaveLength(1);
      expect(missing[0]).toMatchObject({ level: 50, masterKeyIds: [testKeyId] });
      expect(missing[0]!.msg).toContain(testKeyId);

      // A read under the missing key is an operator's problem: 503 in the envelope, not a 500.
      const read = await t.app.inject({ url: '/probe/decrypt' });
      expect(read.statusCode).toBe(503);
      expect(read.json().error).toMatchObject({ code: 'service_unavailable', message: expect.stringContaining('master key is not configured') });
      expect(read.headers['retry-after']).toBe('5');
    } finally {
      await t.close();
    }

    // With the right keys (the missing one back, beside the new active one): ready, and readable.
    const fixed = await appWith(new Keyring({ keys: [other, testKeyring.active], activeId: other.id }));
    try {
      const ready = await fixed.t.app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json().checks).toEqual({ database: 'ok', store: 'ok', crypto: 'ok', storage: 'unchecked' });
      expect((await fixed.t.app.inject({ url: '/probe/decrypt' })).json()).toEqual({ text: 'the secret' });
      expect(fixed.logs.records().filter((r) => typeof r.securityEvent === 'string' && r.securityEvent.startsWith('crypto.master_key'))).toEqual([]);
    } finally {
      await fixed.t.close();
    }
  });

  it('fails when a master key is configured under the right id with other key material', async () => {
    const impostor = { id: testKeyId, key: generateMasterKey().key };
    const { t, logs } = await appWith(new Keyring({ keys: [impostor], activeId: impostor.id }));
    try {
      const ready = await t.app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.crypto).toBe('failed');
      expect(logs.records().find((r) => r.securityEvent === 'crypto.master_key_mismatch')).toMatchObject({ masterKeyIds: [testKeyId] });
      // The record does not decrypt (a 500: the error cannot tell a wrong key from a tampered row).
      expect((await t.app.inject({ url: '/probe/decrypt' })).statusCode).toBe(500);
    } finally {
      await t.close();
    }
  });

  it('is cached, and sees data keys re-wrapped by another process without a restart', async () => {
    const other = generateMasterKey();
    const lines = new LogCapture();
    let now = 1_000_000;
    const encryptor = new Encryptor(database.db, new Keyring({ keys: [other], activeId: other.id }));
    let runs = 0;
    const check = encryptor.checkMasterKeys.bind(encryptor);
    encryptor.checkMasterKeys = () => {
      runs++;
      return check();
    };
    const crypto = new CryptoCheck({ encryptor, logger: createLogger('info', lines), ttlMs: 15_000, now: () => now });

    expect(await Promise.all([crypto.state(), crypto.state()])).toEqual(['failed', 'failed']); // one run for both
    now += 14_000;
    expect(await crypto.state()).toBe('failed');
    expect(runs).toBe(1);

    // Another process holding both keys re-wraps every data key to the key this copy has.
    await rewrapDataKeys(database.db, new Keyring({ keys: [testKeyring.active, other], activeId: other.id }));
    expect(await crypto.state()).toBe('failed'); // still cached
    now += 1_000;
    expect(await crypto.state()).toBe('ok');
    expect(runs).toBe(2);
    expect(lines.records().map((r) => r.securityEvent ?? r.msg)).toEqual(['crypto.master_key_missing', 'every master key that wraps data keys is configured again']);

    // And the other way round: re-wrapped to a key this copy lacks (a rotation it was not given).
    const newer = generateMasterKey();
    await rewrapDataKeys(database.db, new Keyring({ keys: [other, newer], activeId: newer.id }));
    now += 15_000;
    expect(await crypto.state()).toBe('failed');
    expect(lines.records().at(-1)).toMatchObject({ securityEvent: 'crypto.master_key_missing', masterKeyIds: [newer.id] });
  });

  it('keeps its last answer while the database does not answer (the database check reports that)', async () => {
    let now = 0;
    const encryptor = new Encryptor(database.db, testKeyring);
    const crypto = new CryptoCheck({ encryptor, logger: createLogger('silent'), now: () => now });
    expect(await crypto.state()).toBe('ok');
    encryptor.checkMasterKeys = () => Promise.reject(new Error('connection refused'));
    now += 60_000;
    expect(await crypto.state()).toBe('ok');
    encryptor.checkMasterKeys = () => new Promise(() => {}); // a query that hangs
    expect(await crypto.state(50)).toBe('ok');
  });
});
