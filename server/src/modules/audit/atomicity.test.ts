/**
 * A change and its audit entry are one transaction (here: creating an API key). When the
 * transaction fails after the entry was appended, or the append itself fails, neither the
 * change nor the entry remains; when it commits, both do, and a checkpoint the entry
 * called for is signed after the commit.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/accounts.js';
import { silentLogger, testDatabase, testKeyring, testStore } from '../../../test/harness.js';
import { ManualClock } from '../../platform/clock.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import type { Database, Db } from '../../platform/db/database.js';
import { ApiKeyService } from '../api-keys/service.js';
import type { Actor } from './actor.js';
import { AuditKeys } from './keys.js';
import { AuditLog, type AuditEvent } from './service.js';
import { verifyAuditLog } from './verify.js';

let database: Database;
let clock: ManualClock;
let userId: string;

/** An audit log that appends, then fails the transaction (`after`), or fails before appending (`before`). */
class FailingAuditLog extends AuditLog {
  constructor(private readonly when: 'before' | 'after') {
    super(database.db, new AuditKeys(database.db, new Encryptor(database.db, testKeyring), clock), clock, silentLogger, { checkpointEvery: 1, checkpointIntervalMs: 0 });
  }

  override async append(trx: Db, actor: Actor, event: AuditEvent): Promise<void> {
    if (this.when === 'before') throw new Error('audit append failed');
    await super.append(trx, actor, event);
    const written = await trx.selectFrom('audit_entries').select('action').execute();
    expect(written.map((r) => r.action)).toEqual(['api_key.created']); // the entry was in the transaction
    throw new Error('transaction failed after the audit append');
  }
}

async function createKey(audit: AuditLog) {
  const store = await testStore();
  try {
    const actor: Actor = { type: 'user', userId, ip: '203.0.113.9', requestId: 'req-1' };
    return await new ApiKeyService(database.db, clock, store, undefined, audit).create(userId, { name: 'ci', scopes: ['agents:read'] }, actor);
  } finally {
    await store.close();
  }
}

const keys = () => database.db.selectFrom('api_keys').select('id').execute();
const entries = async () => (await database.db.selectFrom('audit_entries').select(['seq', 'action', 'target_id', 'request_id']).execute()).map((r) => ({ ...r, seq: Number(r.seq) }));
const checkpoints = async () => (await database.db.selectFrom('audit_checkpoints').select('seq').execute()).map((r) => Number(r.seq));

beforeEach(async () => {
  database = await testDatabase();
  clock = new ManualClock();
  userId = await createUser(database, { email: `atomic-${Date.now()}@example.test` });
});

describe('audited changes', () => {
  it('leave neither the change nor the entry when the transaction fails after the append', async () => {
    await expect(createKey(new FailingAuditLog('after'))).rejects.toThrow('transaction failed after the audit append');
    expect(await keys()).toEqual([]);
    expect(await entries()).toEqual([]);
    expect(await checkpoints()).toEqual([]);
  });

  it('leave neither the change nor the entry when the append fails', async () => {
    await expect(createKey(new FailingAuditLog('before'))).rejects.toThrow('audit append failed');
    expect(await keys()).toEqual([]);
    expect(await entries()).toEqual([]);
  });

  it('commit the change with its entry, then sign the checkpoint the entry called for', async () => {
    const audit = new AuditLog(database.db, new AuditKeys(database.db, new Encryptor(database.db, testKeyring), clock), clock, silentLogger, { checkpointEvery: 1, checkpointIntervalMs: 0 });
    const { row } = await createKey(audit);
    expect(await keys()).toEqual([{ id: row.id }]);
    expect(await entries()).toEqual([{ seq: 1, action: 'api_key.created', target_id: row.id, request_id: 'req-1' }]);
    expect(await checkpoints()).toEqual([1]);
    expect(await verifyAuditLog(database.db, new AuditKeys(database.db, new Encryptor(database.db, testKeyring), clock))).toEqual({ ok: true, entries: 1, checkpoints: 1, lastSeq: 1 });
  });
});
