/**
 * The backup runbook (docs/operations.md, "Backup and restore"), done for real: fill a
 * database through the app, back it up, destroy it, restore it, start the app on it with
 * the master keys from their own backup, and read everything back through the API —
 * messages, the provider key, the document original (in a data export), the audit chain.
 * Started with the wrong key set instead, the restored copy says so: /readyz 503 with
 * crypto failed, the missing key id logged, reads 503 rather than 500.
 *
 * PostgreSQL run: `pg_dump -Fc` while the app runs, drop the database, create it again,
 * `pg_restore`. Embedded run: stop, copy DATA_DIR/pgdata and DATA_DIR/master-keys to two
 * places, delete DATA_DIR, put both back; the wrong key set is a restore without the key
 * file (a new key is generated in its place).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { strFromU8, unzipSync } from 'fflate';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditKeys } from '../src/modules/audit/keys.js';
import { verifyAuditLog } from '../src/modules/audit/verify.js';
import { systemClock } from '../src/platform/clock.js';
import { EMBEDDED_KEY_FILE, Keyring, loadKeyring } from '../src/platform/crypto/keyring.js';
import { generateMasterKey } from '../src/platform/crypto/master-keys.js';
import { openDatabase, openPostgres, type Database } from '../src/platform/db/database.js';
import { migrate } from '../src/platform/db/migrator.js';
import { PASSWORD, tokenFrom } from './accounts.js';
import { ApiClient } from './api-client.js';
import { BrowserClient } from './browser-client.js';
import { PROVIDER_KEY } from './chat-fixture.js';
import { startFakeLlm, type FakeLlm } from './fake-llm.js';
import { buildTestApp, createPostgresDatabase, LogCapture, postgresDatabaseName, silentLogger, TEST_DATABASE_URL, tempDir, testConfig, testKeyring, testStore, waitFor, type TestApp } from './harness.js';
import { fillWorkspace, person, type Person } from './privacy-fixtures.js';
import { SmtpSink } from './smtp-sink.js';

const run = promisify(execFile);
const POOL = { DB_POOL_MAX: 4, DB_STATEMENT_TIMEOUT_MS: 15_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 5_000 };

/** A deployment's database and the master keys it runs with. */
interface Deployment {
  database: Database;
  keyring: Keyring;
}

/** One way of backing up and restoring: PostgreSQL dump and restore, or a copy of DATA_DIR. */
interface BackupMethod {
  /** An empty, migrated database and the deployment's master keys. */
  create(): Promise<Deployment>;
  /** Takes the backup; `stop` stops the app and closes the database (before or after the copy). */
  backUp(stop: () => Promise<void>): Promise<void>;
  /** The disaster: the database is gone. */
  destroy(): Promise<void>;
  /** The database from the backup, with the keys from the key backup. */
  restore(): Promise<Deployment>;
  /** The database from the backup, started with a key set that lacks the keys (the restored one closed first). */
  restoreWithWrongKeys(): Promise<Deployment>;
  cleanUp(): Promise<void>;
}

/** `pg_dump -Fc` of the running database; drop; create; `pg_restore`. Keys: MASTER_KEYS, kept apart. */
function postgresMethod(): BackupMethod {
  const name = postgresDatabaseName('backup');
  const url = new URL(TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  let dir = '';
  const dump = () => path.join(dir, 'bastion.dump');
  const open = async (keyring: Keyring): Promise<Deployment> => ({ database: openPostgres(url.toString(), POOL, silentLogger), keyring });
  const dropDatabase = async () => {
    const admin = openPostgres(TEST_DATABASE_URL!, { ...POOL, DB_POOL_MAX: 1 }, silentLogger);
    try {
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
      return (await sql<{ n: number }>`select count(*)::int as n from pg_database where datname = ${name}`.execute(admin.db)).rows[0]!.n;
    } finally {
      await admin.close();
    }
  };
  return {
    async create() {
      dir = await tempDir('pg-backup');
      await createPostgresDatabase(name);
      const deployment = await open(testKeyring);
      await migrate(deployment.database.db);
      return deployment;
    },
    async backUp(stop) {
      // Online: a consistent snapshot while the app keeps serving.
      await run('pg_dump', ['--format=custom', `--file=${dump()}`, `--dbname=${url.toString()}`]);
      await stop();
      expect((await fs.stat(dump())).size).toBeGreaterThan(10_000);
    },
    async destroy() {
      expect(await dropDatabase()).toBe(0);
    },
    async restore() {
      await createPostgresDatabase(name);
      await run('pg_restore', ['--exit-on-error', '--no-owner', `--dbname=${url.toString()}`, dump()]);
      return open(testKeyring);
    },
    async restoreWithWrongKeys() {
      const other = generateMasterKey();
      return open(new Keyring({ keys: [other], activeId: other.id }));
    },
    async cleanUp() {
      await dropDatabase();
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Stop; copy DATA_DIR/pgdata and DATA_DIR/master-keys to different places; delete DATA_DIR; put back. */
function dataDirMethod(): BackupMethod {
  let root = '';
  const at = (...parts: string[]) => path.join(root, ...parts);
  const open = async (dataDir: string): Promise<Deployment> => {
    const config = testConfig({ DATA_DIR: dataDir });
    const database = await openDatabase(config, silentLogger);
    return { database, keyring: loadKeyring(config, silentLogger).keyring };
  };
  const putBack = async (dataDir: string, withKeys: boolean) => {
    await fs.cp(at('backup', 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true });
    if (withKeys) await fs.cp(at('key-backup', EMBEDDED_KEY_FILE), path.join(dataDir, EMBEDDED_KEY_FILE));
  };
  return {
    async create() {
      root = await tempDir('data-dir-backup');
      const deployment = await open(at('data')); // generates DATA_DIR/master-keys
      await migrate(deployment.database.db);
      return deployment;
    },
    async backUp(stop) {
      // The embedded database is one process's files: copy them only once it has stopped.
      await stop();
      await fs.cp(at('data', 'pgdata'), at('backup', 'pgdata'), { recursive: true });
      await fs.mkdir(at('key-backup'), { mode: 0o700 });
      await fs.cp(at('data', EMBEDDED_KEY_FILE), at('key-backup', EMBEDDED_KEY_FILE));
    },
    async destroy() {
      await fs.rm(at('data'), { recursive: true });
    },
    async restore() {
      await putBack(at('data'), true);
      return open(at('data'));
    },
    async restoreWithWrongKeys() {
      await putBack(at('data-without-keys'), false);
      return open(at('data-without-keys'));
    },
    async cleanUp() {
      if (root) await fs.rm(root, { recursive: true, force: true });
    },
  };
}

const method = TEST_DATABASE_URL ? postgresMethod() : dataDirMethod();
/** Free space is measured under DATA_DIR on the embedded database only. */
const STORAGE = TEST_DATABASE_URL ? 'unchecked' : 'ok';
const sink = new SmtpSink();
let smtpUrl = '';
let fake: FakeLlm;
const apps: TestApp[] = [];
const databases: Database[] = [];

/** The real app on `deployment`, with a fresh, empty store (the store is not backed up). */
async function start(deployment: Deployment, logs?: LogCapture): Promise<TestApp> {
  databases.push(deployment.database);
  const t = await buildTestApp({
    database: deployment.database,
    keyring: deployment.keyring,
    store: await testStore(),
    smtpUrl,
    ...(logs ? { logs } : {}),
    env: { REQUIRE_MFA: 'none', OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*', PRIVACY_JOB_INTERVAL_SECONDS: '0', AUDIT_CHECKPOINT_EVERY: '2' },
  });
  apps.push(t);
  return t;
}

async function stop(t: TestApp, deployment: Deployment): Promise<void> {
  await t.close();
  await t.store.close();
  await deployment.database.close();
}

beforeAll(async () => {
  smtpUrl = await sink.start();
  fake = await startFakeLlm();
});

afterAll(async () => {
  for (const t of apps) await t.close().catch(() => {});
  for (const t of apps) await t.store.close().catch(() => {});
  for (const database of databases) await database.close().catch(() => {});
  await method.cleanUp();
  await fake.close();
  await sink.stop();
});

describe(`backup and restore (${TEST_DATABASE_URL ? 'pg_dump / pg_restore' : 'DATA_DIR copy'})`, () => {
  it('restores a database whose messages, provider keys, documents and audit chain read back with the same master keys', async () => {
    // 1. A deployment filled through the API: a user, a workspace, a provider connection
    //    with its key, an agent, a conversation with an answer, an ingested document.
    const original = await method.create();
    const before = await start(original);
    const someone = await person(before, 'restorer');
    const workspace = await someone.api.post('/workspaces', { name: 'Restored Ltd' });
    expect(workspace.statusCode, workspace.body).toBe(201);
    someone.api.workspaceId = workspace.json().id as string;
    const filled: Person = await fillWorkspace(before, someone, fake.url);
    const connectionId = (await filled.api.get('/provider-connections')).json().connections[0].id as string;
    const messagesBefore = (await filled.api.get(`/conversations/${filled.conversationId}/messages`)).json().messages as unknown[];
    expect(messagesBefore).toHaveLength(2);
    const auditBefore = await verifyAuditLog(original.database.db, new AuditKeys(original.database.db, before.encryptor, systemClock));
    expect(auditBefore).toMatchObject({ ok: true });
    expect(auditBefore.checkpoints).toBeGreaterThan(0);

    // 2. Back up, lose the database, restore it.
    await method.backUp(() => stop(before, original));
    await method.destroy();
    const restored = await method.restore();
    expect((await migrate(restored.database.db)).applied).toEqual([]); // the schema came back whole

    // 3. The same master keys: ready, and every encrypted record reads back through the API.
    const after = await start(restored);
    expect((await after.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', checks: { database: 'ok', store: 'ok', crypto: 'ok', storage: STORAGE } });
    const api = new ApiClient(after, filled.id, filled.email, filled.api.key); // API keys live in the database
    api.workspaceId = someone.api.workspaceId;
    expect((await api.get('/workspaces')).json().workspaces.map((w: { name: string }) => w.name)).toContain('Restored Ltd');
    const messages = await api.get(`/conversations/${filled.conversationId}/messages`);
    expect(messages.statusCode, messages.body).toBe(200);
    expect(messages.json().messages).toEqual(messagesBefore);
    expect(messages.body).toContain(filled.marker);

    fake.reset();
    const test = await api.post(`/provider-connections/${connectionId}/test`);
    expect(test.json(), test.body).toMatchObject({ ok: true });
    expect(fake.requests.map((r) => r.headers.authorization)).toContain(`Bearer ${PROVIDER_KEY}`); // the key decrypted

    const document = await api.get(`/knowledge-bases/${filled.baseId}/documents/${filled.documentId}`);
    expect(document.json().status).toBe('ready');
    const search = await api.post(`/knowledge-bases/${filled.baseId}/search`, { query: filled.marker });
    expect(search.body).toContain(filled.marker);

    // Sessions were in the store, which is not restored: sign in again, then export, which
    // decrypts the conversation and the document's original.
    const browser = new BrowserClient(after.app);
    expect((await browser.signIn(filled.email, PASSWORD)).statusCode).toBe(200);
    const started = await browser.post('/me/export');
    expect(started.statusCode, started.body).toBe(202);
    const token = tokenFrom((await sink.next(filled.email, /data export is ready/, 15_000)).text);
    expect(await waitFor(async () => (await browser.get('/me/exports')).json().exports[0].status === 'ready', 15_000)).toBe(true);
    const download = await browser.post(`/me/exports/${started.json().id}/download`, { token });
    expect(download.statusCode, download.body).toBe(200);
    const files = unzipSync(new Uint8Array(download.rawPayload));
    expect(strFromU8(files['conversations.json']!)).toContain(filled.marker);
    const upload = Object.keys(files).find((name) => name.startsWith(`uploads/${filled.documentId}/`));
    expect(strFromU8(files[upload!]!)).toContain(`The code word is ${filled.marker}`);

    // `bastion audit verify`, in-process: the chain and its signed checkpoints survived.
    const audit = await verifyAuditLog(restored.database.db, new AuditKeys(restored.database.db, after.encryptor, systemClock));
    expect(audit).toMatchObject({ ok: true, checkpoints: auditBefore.checkpoints });
    expect(audit.entries).toBeGreaterThanOrEqual(auditBefore.entries);
    await stop(after, restored);

    // 4. The wrong key set: not ready, the missing key named, reads 503 instead of 500.
    const wrong = await method.restoreWithWrongKeys();
    const logs = new LogCapture();
    const misconfigured = await start(wrong, logs);
    const ready = await misconfigured.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks).toEqual({ database: 'ok', store: 'ok', crypto: 'failed', storage: STORAGE });
    const missing = logs.records().find((r) => r.securityEvent === 'crypto.master_key_missing');
    expect(missing?.masterKeyIds).toEqual([original.keyring.active.id]);
    const stranded = new ApiClient(misconfigured, filled.id, filled.email, filled.api.key);
    stranded.workspaceId = api.workspaceId;
    const unreadable = await stranded.get(`/conversations/${filled.conversationId}/messages`);
    expect(unreadable.statusCode).toBe(503);
    expect(unreadable.json().error.code).toBe('service_unavailable');
  }, 120_000);
});
