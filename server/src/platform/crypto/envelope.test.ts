/**
 * Envelope encryption on the database under test (PGlite, or PostgreSQL in the
 * PostgreSQL run): round trip, tampering, wrong row, unknown and wrong keys,
 * crypto-shredding, rotation with re-wrap and retirement, and a dump grep.
 */
import { sql } from 'kysely';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, testDatabase } from '../../../test/harness.js';
import type { Database } from '../db/database.js';
import { CryptoError } from './crypto-error.js';
import { Encryptor, type Binding, type CryptoSecurityEvent } from './envelope.js';
import { Keyring } from './keyring.js';
import { generateMasterKey, type MasterKey } from './master-keys.js';
import { assertRetirable, KeyInUseError, rewrapDataKeys } from './rotation.js';

let database: Database;
let events: CryptoSecurityEvent[];
const k1 = generateMasterKey();
const k2 = generateMasterKey();

function keyring(keys: MasterKey[], active: MasterKey): Keyring {
  return new Keyring({ keys, activeId: active.id });
}

function encryptor(ring: Keyring): Encryptor {
  return new Encryptor(database.db, ring, { onSecurityEvent: (event) => events.push(event), cacheTtlMs: 0 });
}

const at = (rowId: string): Binding => ({ table: 'crypto_test_records', column: 'secret', rowId });

async function store(rowId: string, blob: Buffer): Promise<void> {
  await sql`insert into crypto_test_records (id, secret) values (${rowId}, ${blob})`.execute(database.db);
}

async function load(rowId: string): Promise<Buffer> {
  const result = await sql<{ secret: Buffer }>`select secret from crypto_test_records where id = ${rowId}`.execute(database.db);
  return Buffer.from(result.rows[0]!.secret);
}

async function expectCryptoError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CryptoError);
  expect((error as CryptoError).code).toBe(code);
}

/** Every row of every table as text: what a leaked dump would show. */
async function dumpDatabase(): Promise<string> {
  const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public'`.execute(database.db);
  let dump = '';
  for (const { tablename } of tables.rows) {
    const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(tablename)} t`.execute(database.db);
    dump += rows.rows.map((r) => r.row).join('\n');
  }
  return dump;
}

beforeEach(async () => {
  database = await testDatabase();
  await sql`create table if not exists crypto_test_records (id text primary key, secret bytea not null)`.execute(database.db);
  await sql`truncate crypto_test_records`.execute(database.db);
  events = [];
});

// The scratch table is not part of the schema: leave the worker's shared database as it was.
afterAll(async () => {
  await sql`drop table if exists crypto_test_records`.execute((await testDatabase()).db);
});

describe('envelope encryption', () => {
  it('round-trips per owner and stores no plaintext', async () => {
    const box = encryptor(keyring([k1], k1));
    const secrets = { a: 'sk-live-workspace-a-7f3e9c', b: 'sk-live-workspace-b-1d2c3b', u: 'JBSWY3DPEHPK3PXP-user-totp' };
    await store('a', await box.encrypt({ scope: 'workspace', id: 'ws-a' }, at('a'), secrets.a));
    await store('b', await box.encrypt({ scope: 'workspace', id: 'ws-b' }, at('b'), secrets.b));
    await store('u', await box.encrypt({ scope: 'user', id: 'user-1' }, at('u'), Buffer.from(secrets.u)));
    expect(await box.decryptText(at('a'), await load('a'))).toBe(secrets.a);
    expect(await box.decryptText(at('b'), await load('b'))).toBe(secrets.b);
    expect(await box.decryptText(at('u'), await load('u'))).toBe(secrets.u);
    const keys = await database.db.selectFrom('data_keys').select(['scope', 'owner_id', 'master_key_id']).orderBy('owner_id').execute();
    expect(keys).toEqual([
      { scope: 'user', owner_id: 'user-1', master_key_id: k1.id },
      { scope: 'workspace', owner_id: 'ws-a', master_key_id: k1.id },
      { scope: 'workspace', owner_id: 'ws-b', master_key_id: k1.id },
    ]);
    const dump = await dumpDatabase();
    for (const secret of Object.values(secrets)) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(Buffer.from(secret).toString('hex'));
    }
    expect(dump).not.toContain(k1.key.toString('hex'));
  });

  it('creates one data key per owner under concurrent first use', async () => {
    const box = encryptor(keyring([k1], k1));
    const blobs = await Promise.all(Array.from({ length: 10 }, (_, i) => box.encrypt({ scope: 'workspace', id: 'busy' }, at(`r${i}`), `v${i}`)));
    const count = await database.db
      .selectFrom('data_keys')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
    for (const [i, blob] of blobs.entries()) expect(await box.decryptText(at(`r${i}`), blob)).toBe(`v${i}`);
  });

  it('refuses tampered, moved, truncated and unknown-key ciphertexts with typed errors and security events [ASVS 11.3.3]', async () => {
    const box = encryptor(keyring([k1], k1));
    const blob = await box.encrypt({ scope: 'workspace', id: 'ws' }, at('row-1'), 'provider-key-ABCDEF');

    const flipped = Buffer.from(blob);
    flipped[flipped.length - 20]! ^= 0x80;
    await expectCryptoError(box.decrypt(at('row-1'), flipped), 'authentication_failed');
    await expectCryptoError(box.decrypt(at('row-2'), blob), 'authentication_failed');
    await expectCryptoError(box.decrypt({ ...at('row-1'), column: 'other' }, blob), 'authentication_failed');
    await expectCryptoError(box.decrypt(at('row-1'), blob.subarray(0, 10)), 'malformed_ciphertext');
    await expectCryptoError(box.decrypt(at('row-1'), Buffer.concat([Buffer.from([9]), blob.subarray(1)])), 'unsupported_version');
    const otherKey = Buffer.from(blob);
    otherKey.fill(0xab, 1, 17);
    await expectCryptoError(box.decrypt(at('row-1'), otherKey), 'unknown_data_key');

    expect(events.map((e) => e.code)).toEqual(['authentication_failed', 'authentication_failed', 'authentication_failed', 'malformed_ciphertext', 'unsupported_version', 'unknown_data_key']);
    expect(events[1]).toMatchObject({ type: 'crypto.decrypt_failed', table: 'crypto_test_records', rowId: 'row-2' });
    expect(JSON.stringify(events)).not.toContain('provider-key');
    expect(await box.decryptText(at('row-1'), blob)).toBe('provider-key-ABCDEF');
  });

  it('refuses a wrong or missing master key', async () => {
    const blob = await encryptor(keyring([k1], k1)).encrypt({ scope: 'instance' }, at('x'), 'oidc-client-secret');
    const impostor = { id: k1.id, key: generateMasterKey().key };
    await expectCryptoError(encryptor(keyring([impostor], impostor)).decrypt(at('x'), blob), 'authentication_failed');
    await expectCryptoError(encryptor(keyring([k2], k2)).decrypt(at('x'), blob), 'unknown_master_key');
  });

  it("asks the database for an owner's key once per TTL, and forgets it when the key is shredded", async () => {
    let queries = 0;
    const counted = database.db.withPlugin({
      transformQuery: (args) => (queries++, args.node),
      transformResult: (args) => Promise.resolve(args.result),
    });
    const box = new Encryptor(counted, keyring([k1], k1), { cacheTtlMs: 60_000 });
    const owner = { scope: 'workspace', id: 'cached' } as const;
    const first = await box.encrypt(owner, at('c1'), 'one');
    const afterFirst = queries;
    const more = await Promise.all(Array.from({ length: 5 }, (_, i) => box.encrypt(owner, at(`c${i + 2}`), `v${i}`)));
    expect(queries).toBe(afterFirst); // served from memory
    expect(await box.decryptText(at('c1'), first)).toBe('one');
    expect(await box.decryptText(at('c2'), more[0]!)).toBe('v0');

    expect(await box.shred(owner)).toBe(true);
    const fresh = await box.encrypt(owner, at('c9'), 'after');
    expect(queries).toBeGreaterThan(afterFirst); // looked up (and created) anew
    expect(fresh.subarray(1, 17).equals(first.subarray(1, 17))).toBe(false); // under a new data key
    expect(await box.decryptText(at('c9'), fresh)).toBe('after');
    await expectCryptoError(box.decrypt(at('c1'), first), 'unknown_data_key');
  });

  it('crypto-shreds an owner without touching the others', async () => {
    const box = encryptor(keyring([k1], k1));
    const gone = await box.encrypt({ scope: 'user', id: 'leaver' }, at('g'), 'personal data');
    const kept = await box.encrypt({ scope: 'user', id: 'stayer' }, at('k'), 'other data');
    expect(await box.shred({ scope: 'user', id: 'leaver' })).toBe(true);
    expect(await box.shred({ scope: 'user', id: 'leaver' })).toBe(false);
    await expectCryptoError(box.decrypt(at('g'), gone), 'unknown_data_key');
    expect(await box.decryptText(at('k'), kept)).toBe('other data');
  });

  it('rotates: new key, re-wrap, retire the old key, and every record still decrypts [ASVS 11.2.2, 13.3.4]', async () => {
    const before = encryptor(keyring([k1], k1));
    const written: Record<string, string> = {};
    for (let i = 0; i < 7; i++) {
      written[`old-${i}`] = `secret-before-rotation-${i}-${'x'.repeat(i)}`;
      await store(`old-${i}`, await before.encrypt({ scope: 'workspace', id: `ws-${i}` }, at(`old-${i}`), written[`old-${i}`]!));
    }

    const rotated = keyring([k1, k2], k2);
    written.new = 'secret-after-rotation';
    await store('new', await encryptor(rotated).encrypt({ scope: 'workspace', id: 'ws-new' }, at('new'), written.new));
    await expect(assertRetirable(database.db, rotated, k1.id)).rejects.toBeInstanceOf(KeyInUseError);

    const progress: number[] = [];
    const first = await rewrapDataKeys(database.db, rotated, { batchSize: 3, onProgress: (p) => progress.push(p.done) });
    expect(first).toEqual({ rewrapped: 7, skipped: 0 });
    expect(progress).toEqual([3, 6, 7]);
    expect(await rewrapDataKeys(database.db, rotated)).toEqual({ rewrapped: 0, skipped: 0 }); // idempotent
    await expect(assertRetirable(database.db, rotated, k1.id)).resolves.toBeUndefined();
    await expect(assertRetirable(database.db, rotated, k2.id)).rejects.toThrow(/active key/);

    const retired = encryptor(keyring([k2], k2));
    for (const [rowId, plaintext] of Object.entries(written)) {
      expect(await retired.decryptText(at(rowId), await load(rowId))).toBe(plaintext);
    }
    const dump = await dumpDatabase();
    for (const plaintext of Object.values(written)) expect(dump).not.toContain(plaintext);
    expect(events).toEqual([]);
  });
});

describe('decryption failures over HTTP', () => {
  it('surface as a generic 500 internal_error [ASVS 16.5.1]', async () => {
    const box = encryptor(keyring([k1], k1));
    const blob = await box.encrypt({ scope: 'instance' }, at('h'), 'webhook-signing-secret');
    const t = await buildTestApp({
      database,
      routes: (app) => {
        app.get('/api/v1/probe/secret', async () => ({ value: await box.decryptText(at('other-row'), blob) }));
      },
    });
    const response = await t.app.inject({ url: '/api/v1/probe/secret' });
    expect(response.statusCode).toBe(500);
    expect(response.json().error.code).toBe('internal_error');
    expect(response.body).not.toMatch(/decryption|webhook|crypto/i);
    expect(events).toHaveLength(1);
    await t.close();
  });
});
