import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/accounts.js';
import { LogCapture, silentLogger, testDatabase, testKeyring } from '../../../test/harness.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import { AuditKeys } from '../audit/keys.js';
import { AuditLog } from '../audit/service.js';
import { verifyAuditLog } from '../audit/verify.js';
import { createLogger } from '../../platform/log.js';
import { ManualClock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import { BATCH, RetentionService, type RetentionSettings } from './retention.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-06-01T00:00:00Z');
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

let database: Database;
beforeAll(async () => {
  database = await testDatabase();
});
afterAll(async () => {
  await testDatabase(); // leave the shared database empty
});

const settings: RetentionSettings = { conversations: 30, uploads: 60, securityEvents: 90, audit: 0, sessions: 10, exports: 7 };

/** Rows of each class on both sides of the cutoff; returns the ids that must stay. */
async function seed(db: Database['db']): Promise<Record<string, string[]>> {
  const userId = await createUser(database, { email: `ret-${randomUUID()}@example.org` });
  const workspaceId = randomUUID();
  await db
    .insertInto('workspaces')
    .values({ id: workspaceId, name: 'W', personal_owner_id: null, monthly_token_budget: null, created_at: ago(400), updated_at: ago(400) })
    .execute();
  const agentId = randomUUID();
  await db
    .insertInto('agents')
    .values({ id: agentId, workspace_id: workspaceId, current_version: 1, created_by: userId, created_at: ago(400), updated_at: ago(400) })
    .execute();
  const kbId = randomUUID();
  await db
    .insertInto('knowledge_bases')
    .values({ id: kbId, workspace_id: workspaceId, name: 'K', created_by: userId, created_at: ago(400), updated_at: ago(400) })
    .execute();
  const keep: Record<string, string[]> = { conversations: [], documents: [], security_events: [], sessions: [], data_exports: [] };
  for (const [age, stays] of [
    [29, true],
    [31, false],
    [300, false],
  ] as const) {
    const id = randomUUID();
    await db
      .insertInto('conversations')
      // The oldest was deleted by its owner and is waiting for the purge: retention covers it all the same.
      .values({ id, workspace_id: workspaceId, user_id: userId, agent_id: agentId, agent_version: 1, source: 'chat', created_at: ago(400), updated_at: ago(age), deleted_at: age === 300 ? ago(age) : null })
      .execute();
    if (stays) keep.conversations!.push(id);
  }
  for (const [age, stays] of [
    [59, true],
    [61, false],
  ] as const) {
    const id = randomUUID();
    await db
      .insertInto('documents')
      .values({ id, knowledge_base_id: kbId, workspace_id: workspaceId, filename: 'a.txt', source: 'upload', kind: 'txt', size_bytes: '1', content_hash: id, status: 'ready', created_by: userId, created_at: ago(age), updated_at: ago(age) })
      .execute();
    if (stays) keep.documents!.push(id);
  }
  // More expired security events than one batch: the purge loops.
  const events = Array.from({ length: BATCH + 20 }, () => ({ id: randomUUID(), type: 'auth.sign_in_failed', user_id: userId, details: '{}', created_at: ago(91) }));
  await db.insertInto('security_events').values(events).execute();
  const recentEvent = randomUUID();
  await db
    .insertInto('security_events')
    .values({ id: recentEvent, type: 'auth.sign_in_failed', user_id: userId, details: '{}', created_at: ago(89) })
    .execute();
  keep.security_events!.push(recentEvent);
  for (const [ended, stays] of [
    [9, true],
    [11, false],
  ] as const) {
    const id = randomUUID();
    await db
      .insertInto('sessions')
      .values({ id, user_id: userId, token_hash: id, ip: '10.0.0.1', user_agent: 'x', created_at: ago(ended + 1), last_seen_at: ago(ended), expires_at: ago(ended), revoked_at: null })
      .execute();
    if (stays) keep.sessions!.push(id);
  }
  const live = randomUUID(); // created long ago but still live: never goes
  await db
    .insertInto('sessions')
    .values({ id: live, user_id: userId, token_hash: live, ip: '10.0.0.1', user_agent: 'x', created_at: ago(100), last_seen_at: NOW, expires_at: new Date(NOW.getTime() + DAY), revoked_at: null })
    .execute();
  keep.sessions!.push(live);
  for (const [age, stays] of [
    [6, true],
    [8, false],
  ] as const) {
    const id = randomUUID();
    await db
      .insertInto('data_exports')
      .values({ id, user_id: userId, status: 'downloaded', created_at: ago(age) })
      .execute();
    if (stays) keep.data_exports!.push(id);
  }
  return keep;
}

async function ids(db: Database['db'], table: 'conversations' | 'documents' | 'security_events' | 'sessions' | 'data_exports'): Promise<string[]> {
  return (await db.selectFrom(table).select('id').execute()).map((r) => r.id).sort();
}

describe('retention', () => {
  it('deletes exactly the expired rows of each class, in batches, with a log line per class [ASVS 14.2.7]', async () => {
    const db = database.db;
    const keep = await seed(db);
    const logs = new LogCapture();
    const service = new RetentionService(db, new ManualClock(NOW), createLogger('info', logs), settings);
    const results = await service.run();
    expect(results).toEqual([
      { class: 'conversations', days: 30, rows: 2, action: 'deleted' },
      { class: 'uploads', days: 60, rows: 1, action: 'deleted' },
      { class: 'securityEvents', days: 90, rows: BATCH + 20, action: 'deleted' },
      { class: 'audit', days: 0, rows: 0, action: 'kept' },
      { class: 'sessions', days: 10, rows: 1, action: 'deleted' },
      { class: 'exports', days: 7, rows: 1, action: 'deleted' },
    ]);
    for (const table of Object.keys(keep) as (keyof typeof keep & Parameters<typeof ids>[1])[]) expect(await ids(db, table)).toEqual([...keep[table]!].sort());
    const lines = logs.records().filter((r) => r.msg === 'retention');
    expect(lines.map((r) => r.retention)).toEqual(['conversations', 'uploads', 'securityEvents', 'audit', 'sessions', 'exports']);
    // A second run finds nothing more.
    expect((await service.run()).every((r) => r.rows === 0)).toBe(true);
  });

  it('a dry run counts and deletes nothing; 0 days keeps a class forever', async () => {
    await testDatabase();
    const db = database.db;
    await seed(db);
    const before = await Promise.all((['conversations', 'documents', 'security_events', 'sessions', 'data_exports'] as const).map((t) => ids(db, t)));
    const silent = createLogger('silent');
    const dry = await new RetentionService(db, new ManualClock(NOW), silent, settings).run({ dryRun: true });
    expect(dry.find((r) => r.class === 'securityEvents')).toEqual({ class: 'securityEvents', days: 90, rows: BATCH + 20, action: 'would_delete' });
    const after = await Promise.all((['conversations', 'documents', 'security_events', 'sessions', 'data_exports'] as const).map((t) => ids(db, t)));
    expect(after).toEqual(before);
    const never = await new RetentionService(db, new ManualClock(NOW), silent, { conversations: 0, uploads: 0, securityEvents: 0, audit: 0, sessions: 0, exports: 0 }).run();
    expect(never.every((r) => r.action === 'kept' && r.rows === 0)).toBe(true);
    expect(await Promise.all((['conversations', 'documents', 'security_events', 'sessions', 'data_exports'] as const).map((t) => ids(db, t)))).toEqual(before);
  });

  it('two instances purging at once delete each row once', async () => {
    await testDatabase();
    const db = database.db;
    await seed(db);
    const silent = createLogger('silent');
    const [a, b] = await Promise.all([new RetentionService(db, new ManualClock(NOW), silent, settings).run(), new RetentionService(db, new ManualClock(NOW), silent, settings).run()]);
    const total = (r: typeof a) => r.find((x) => x.class === 'securityEvents')!.rows;
    expect(total(a) + total(b)).toBe(BATCH + 20);
    expect(await db.selectFrom('security_events').select('id').execute()).toHaveLength(1);
  });

  it('pseudonymises audit entries past their age, never deletes them, and the chain still verifies [ASVS 14.2.7]', async () => {
    await testDatabase();
    const db = database.db;
    const clock = new ManualClock(ago(400));
    const keys = new AuditKeys(db, new Encryptor(db, testKeyring), clock);
    const log = new AuditLog(db, keys, clock, silentLogger, { checkpointEvery: 2, checkpointIntervalMs: 0 });
    const oldActor = randomUUID();
    const newActor = randomUUID();
    await log.record({ actor: { type: 'user', userId: oldActor, ip: '203.0.113.9' }, action: 'agent.updated', target: { type: 'agent', id: randomUUID() } });
    clock.set(ago(10));
    await log.record({ actor: { type: 'user', userId: newActor, ip: '203.0.113.10' }, action: 'agent.updated', target: { type: 'agent', id: randomUUID() } });
    const service = new RetentionService(db, new ManualClock(NOW), createLogger('silent'), { ...settings, audit: 365 });
    expect((await service.run({ dryRun: true })).find((r) => r.class === 'audit')).toEqual({ class: 'audit', days: 365, rows: 1, action: 'would_pseudonymise' });
    expect((await service.run()).find((r) => r.class === 'audit')).toEqual({ class: 'audit', days: 365, rows: 1, action: 'pseudonymised' });
    const rows = await db.selectFrom('audit_entries').select(['actor_id', 'actor_ip']).orderBy('seq').execute();
    expect(rows).toHaveLength(2);
    expect(rows[0]!.actor_id).toMatch(/^pseudonym:/);
    expect(rows[0]!.actor_ip).toBeNull();
    expect(rows[1]).toEqual({ actor_id: newActor, actor_ip: '203.0.113.10' });
    expect((await verifyAuditLog(db, keys)).ok).toBe(true);
  });
});
