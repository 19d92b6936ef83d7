/**
 * The audit chain on the real database: appends, concurrency, tamper detection (each
 * tampering done as a superuser would, with triggers off), the append-only trigger, and
 * pseudonymisation.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, testDatabase, testKeyring, waitFor } from '../../../test/harness.js';
import { ManualClock } from '../../platform/clock.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import type { Database, Db } from '../../platform/db/database.js';
import { entryHash, GENESIS_HASH, signCheckpoint } from './chain.js';
import { AuditKeys } from './keys.js';
import { AuditLog, pseudonymiseActor, pseudonymiseBefore, type AuditEntryInput } from './service.js';
import { verifyAuditLog } from './verify.js';

let database: Database;
let db: Db;
let keys: AuditKeys;
let clock: ManualClock;

function auditLog(checkpointEvery = 1_000): AuditLog {
  return new AuditLog(db, keys, clock, silentLogger, { checkpointEvery, checkpointIntervalMs: 0 });
}

const entry = (n: number, userId = randomUUID()): AuditEntryInput => ({
  actor: { type: 'user', userId, ip: '203.0.113.7' },
  action: 'agent.updated',
  target: { type: 'agent', id: randomUUID() },
  workspaceId: randomUUID(),
  requestId: `req-${n}`,
  details: { version: n, fields: ['name', 'tools'], nested: { b: 1, a: 'é ✓' } },
});

async function appendMany(log: AuditLog, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await log.record(entry(i));
}

/** Runs SQL with triggers off, as a superuser bypassing the append-only rule would. */
async function asSuperuser(run: (trx: Db) => Promise<unknown>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await run(trx);
  });
}

async function verify() {
  return verifyAuditLog(db, new AuditKeys(db, new Encryptor(db, testKeyring), clock));
}

async function row(seq: number) {
  return db.selectFrom('audit_entries').selectAll().where('seq', '=', String(seq)).executeTakeFirstOrThrow();
}

/** The hash an attacker who knows the (public) algorithm would write after changing a row. */
function rehash(r: Awaited<ReturnType<typeof row>>, changes: { seq?: number; prevHash?: string } = {}): string {
  return entryHash({
    seq: changes.seq ?? Number(r.seq),
    at: r.at,
    actorType: r.actor_type,
    actorKeyId: r.actor_key_id,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    workspaceId: r.workspace_id,
    requestId: r.request_id,
    details: r.details,
    personalDigest: r.personal_digest,
    prevHash: changes.prevHash ?? r.prev_hash,
  });
}

beforeEach(async () => {
  database = await testDatabase();
  db = database.db;
  clock = new ManualClock();
  keys = new AuditKeys(db, new Encryptor(db, testKeyring), clock);
});

describe('audit chain', () => {
  it('links each entry to the one before and signs checkpoints every N entries', async () => {
    const log = auditLog(5);
    await appendMany(log, 12);
    const rows = await db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(rows[0]!.prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    expect(rows[2]!.details).toEqual({ version: 3, fields: ['name', 'tools'], nested: { a: 'é ✓', b: 1 } });
    const checkpoints = await db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').execute();
    expect(checkpoints.map((c) => [Number(c.seq), c.hash])).toEqual([
      [5, rows[4]!.hash],
      [10, rows[9]!.hash],
    ]);
    expect(await verify()).toEqual({ ok: true, entries: 12, checkpoints: 2, lastSeq: 12 });
    // A timer checkpoint signs the head once, then has nothing to do.
    expect(await log.checkpoint()).toEqual({ seq: 12, hash: rows[11]!.hash });
    expect(await log.checkpoint()).toBeNull();
  });

  it('keeps one chain under 50 concurrent appends', async () => {
    const log = auditLog(10);
    const written = await Promise.all(Array.from({ length: 50 }, (_, i) => log.record(entry(i))));
    expect(new Set(written.map((w) => w.seq)).size).toBe(50);
    expect(Math.max(...written.map((w) => w.seq))).toBe(50);
    const result = await verify();
    expect(result).toMatchObject({ ok: true, entries: 50 });
    expect(result.checkpoints).toBeGreaterThan(0);
  });

  it('signs a checkpoint on the timer when entries were added', async () => {
    const log = new AuditLog(db, keys, clock, silentLogger, { checkpointEvery: 1_000, checkpointIntervalMs: 20 });
    await appendMany(log, 3);
    const stop = log.startSchedule();
    try {
      expect(await waitFor(async () => (await db.selectFrom('audit_checkpoints').select('seq').execute()).length === 1, 5_000, 20)).toBe(true);
      await log.record(entry(4));
      expect(await waitFor(async () => (await db.selectFrom('audit_checkpoints').select('seq').execute()).length === 2, 5_000, 20)).toBe(true);
    } finally {
      stop();
    }
    expect(await verify()).toEqual({ ok: true, entries: 4, checkpoints: 2, lastSeq: 4 });
  });

  it('stores details exactly as hashed (unicode, NUL, odd numbers) and redacts secret-looking keys', async () => {
    const log = auditLog();
    await log.record({ ...entry(1), details: { text: 'a\u0000b \ud800 ✓ 𝄞', big: 1e21, small: 0.1, neg: -0, list: [null, true, { z: 1, y: [] }], apiKey: 'sk-live-123', nested: { password: 'x' } } });
    expect(await verify()).toMatchObject({ ok: true, entries: 1 });
    expect(JSON.stringify((await row(1)).details)).not.toMatch(/sk-live-123|"x"/);
  });
});

describe('tamper detection', () => {
  beforeEach(async () => {
    await appendMany(auditLog(5), 12); // checkpoints at 5 and 10
  });

  it('names an edited entry', async () => {
    await asSuperuser((trx) =>
      trx
        .updateTable('audit_entries')
        .set({ details: JSON.stringify({ version: 99 }) })
        .where('seq', '=', '3')
        .execute(),
    );
    expect(await verify()).toMatchObject({ ok: false, broken: { seq: 3, kind: 'edited' } });
  });

  it('names an entry whose actor was changed', async () => {
    await asSuperuser((trx) => trx.updateTable('audit_entries').set({ actor_id: randomUUID() }).where('seq', '=', '2').execute());
    expect(await verify()).toMatchObject({ ok: false, broken: { seq: 2, kind: 'personal_edited' } });
  });

  it('names a deleted entry', async () => {
    await asSuperuser((trx) => trx.deleteFrom('audit_entries').where('seq', '=', '7').execute());
    const result = await verify();
    expect(result).toMatchObject({ ok: false, broken: { seq: 7, kind: 'deleted' } });
    expect(result.ok || result.broken.message).toMatch(/entry 7 is missing/);
  });

  it('names reordered entries even when their own hashes were recomputed', async () => {
    const [three, four] = [await row(3), await row(4)];
    await asSuperuser(async (trx) => {
      // Swap 3 and 4: each gets the other's place and a hash recomputed for it.
      await trx.deleteFrom('audit_entries').where('seq', 'in', ['3', '4']).execute();
      await trx
        .insertInto('audit_entries')
        .values({ ...four, seq: '3', hash: rehash(four, { seq: 3 }) })
        .execute();
      await trx
        .insertInto('audit_entries')
        .values({ ...three, seq: '4', hash: rehash(three, { seq: 4 }) })
        .execute();
    });
    expect(await verify()).toMatchObject({ ok: false, broken: { seq: 3, kind: 'reordered' } });
  });

  it('detects a tail cut off after a checkpoint', async () => {
    await asSuperuser((trx) => trx.deleteFrom('audit_entries').where('seq', '>=', '9').execute());
    const result = await verify();
    expect(result).toMatchObject({ ok: false, lastSeq: 8, broken: { seq: 9, kind: 'truncated' } });
    expect(result.ok || result.broken.message).toMatch(/checkpoint covers entry 10/);
  });

  it('detects a rewritten chain through the signed checkpoint', async () => {
    // Edit entry 7 and recompute every hash after it: the chain is self-consistent again.
    const rows = await Promise.all([6, 7, 8, 9, 10, 11, 12].map(row));
    await asSuperuser(async (trx) => {
      let prevHash = rows[0]!.hash;
      for (let seq = 7; seq <= 12; seq++) {
        const r = rows[seq - 6]!;
        const details = seq === 7 ? { version: 99 } : r.details;
        const hash = rehash({ ...r, details }, { prevHash });
        await trx
          .updateTable('audit_entries')
          .set({ details: JSON.stringify(details), prev_hash: prevHash, hash })
          .where('seq', '=', String(seq))
          .execute();
        prevHash = hash;
      }
    });
    expect(await verify()).toMatchObject({ ok: false, broken: { seq: 10, kind: 'checkpoint_mismatch' } });
  });

  it('detects a forged checkpoint', async () => {
    const twelve = await row(12);
    const fields = { seq: 12, hash: twelve.hash, at: clock.now(), keyId: 'audit-1' };
    await asSuperuser((trx) =>
      trx
        .insertInto('audit_checkpoints')
        .values({ seq: '12', hash: twelve.hash, at: fields.at, key_id: 'audit-1', signature: signCheckpoint(Buffer.alloc(32, 7), fields) })
        .execute(),
    );
    expect(await verify()).toMatchObject({ ok: false, broken: { seq: 12, kind: 'checkpoint_forged' } });
  });

  it('detects an altered checkpoint', async () => {
    await asSuperuser((trx) => trx.updateTable('audit_checkpoints').set({ hash: GENESIS_HASH }).where('seq', '=', '5').execute());
    expect(await verify()).toMatchObject({ ok: false, broken: { seq: 5, kind: 'checkpoint_forged' } });
  });
});

describe('append-only trigger', () => {
  it('refuses UPDATE, DELETE and TRUNCATE from the normal connection', async () => {
    await appendMany(auditLog(2), 2);
    const refused = /append-only/;
    await expect(db.updateTable('audit_entries').set({ action: 'agent.created' }).execute()).rejects.toThrow(refused);
    await expect(db.deleteFrom('audit_entries').where('seq', '=', '2').execute()).rejects.toThrow(refused);
    await expect(sql`truncate audit_entries`.execute(db)).rejects.toThrow(refused);
    await expect(db.updateTable('audit_checkpoints').set({ signature: 'x' }).execute()).rejects.toThrow(refused);
    await expect(db.deleteFrom('audit_checkpoints').execute()).rejects.toThrow(refused);
    await expect(sql`truncate audit_checkpoints`.execute(db)).rejects.toThrow(refused);
    await expect(db.deleteFrom('audit_keys').execute()).rejects.toThrow(refused);
    expect(await verify()).toMatchObject({ ok: true, entries: 2, checkpoints: 1 });
  });

  it('lets the pseudonymisation setting change personal fields only', async () => {
    const userId = randomUUID();
    await auditLog().record(entry(1, userId));
    const attempt = (set: Record<string, unknown>) =>
      db.transaction().execute(async (trx) => {
        await sql`select set_config('bastion.audit_pseudonymise', 'on', true)`.execute(trx);
        await trx
          .updateTable('audit_entries')
          .set({ personal_salt: null, pseudonymised_at: new Date(), ...set })
          .execute();
      });
    await expect(attempt({ action: 'agent.created' })).rejects.toThrow(/append-only/);
    await expect(attempt({ actor_id: randomUUID() })).rejects.toThrow(/append-only/); // not a pseudonym: no re-attribution
    await expect(attempt({ personal_salt: 'kept', actor_id: 'pseudonym:x' })).rejects.toThrow(/append-only/);
    // Without the setting, even a well-formed pseudonymisation is refused.
    await expect(db.updateTable('audit_entries').set({ actor_id: 'pseudonym:x', personal_salt: null, pseudonymised_at: new Date() }).execute()).rejects.toThrow(/append-only/);
    // The setting ends with its transaction.
    await db.transaction().execute((trx) => sql`select set_config('bastion.audit_pseudonymise', 'on', true)`.execute(trx));
    await expect(db.updateTable('audit_entries').set({ actor_id: 'pseudonym:x', personal_salt: null, pseudonymised_at: new Date() }).execute()).rejects.toThrow(/append-only/);
    expect((await row(1)).actor_id).toBe(userId);
  });
});

describe('pseudonymisation', () => {
  it('replaces a user id everywhere while the chain keeps verifying', async () => {
    const log = auditLog(3);
    const [alice, bob] = [randomUUID(), randomUUID()];
    await log.record(entry(1, alice));
    await log.record({ ...entry(2, bob), action: 'workspace.member.removed', subjectId: alice });
    await log.record(entry(3, bob));
    await log.record(entry(4, alice));

    const stored = await pseudonymiseActor(db, alice, 'erased-1');
    expect(stored).toBe('pseudonym:erased-1');
    const text = await sql<{ t: string }>`select string_agg(a::text, ' ') as t from audit_entries a`.execute(db);
    expect(text.rows[0]!.t).not.toContain(alice);
    const rows = await db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => [r.actor_id, r.subject_id, r.actor_ip, r.pseudonymised_at !== null])).toEqual([
      ['pseudonym:erased-1', null, null, true],
      [bob, 'pseudonym:erased-1', '203.0.113.7', true],
      [bob, null, '203.0.113.7', false],
      ['pseudonym:erased-1', null, null, true],
    ]);
    expect(rows[2]!.personal_salt).not.toBeNull();
    expect(await verify()).toEqual({ ok: true, entries: 4, checkpoints: 1, lastSeq: 4 });

    // A second erasure reaches the entry already pseudonymised for someone else.
    await pseudonymiseActor(db, bob, 'erased-2');
    expect((await row(2)).actor_id).toBe('pseudonym:erased-2');
    expect(await verify()).toMatchObject({ ok: true, entries: 4 });
  });

  it('pseudonymises entries older than a retention cut-off, in batches', async () => {
    const log = auditLog();
    const [old1, old2, recent] = [randomUUID(), randomUUID(), randomUUID()];
    await log.record(entry(1, old1));
    await log.record({ ...entry(2, old2), subjectId: recent });
    await log.record({ actor: { type: 'system', userId: null }, action: 'user.erased', subjectId: 'pseudonym:erased-3' });
    clock.advance(10 * 24 * 3_600_000);
    await log.record(entry(4, recent));
    expect(await pseudonymiseBefore(db, new Date(clock.now().getTime() - 24 * 3_600_000), clock.now(), 2)).toBe(3);
    const rows = await db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => [r.actor_id, r.subject_id, r.actor_ip])).toEqual([
      ['pseudonym:expired', null, null],
      ['pseudonym:expired', 'pseudonym:expired', null],
      [null, 'pseudonym:erased-3', null],
      [recent, null, '203.0.113.7'],
    ]);
    clock.advance(1);
    expect(await pseudonymiseBefore(db, clock.now(), clock.now())).toBe(1);
    expect(await verify()).toMatchObject({ ok: true, entries: 4 });
  });

  it('erasure pseudonymises inside its transaction and records user.erased', async () => {
    const log = auditLog();
    const carol = randomUUID();
    await log.record(entry(1, carol));
    await db.transaction().execute((trx) => log.eraseUser(trx, carol, 'erased-9'));
    const last = await row(2);
    expect(last).toMatchObject({ action: 'user.erased', actor_type: 'system', actor_id: null, subject_id: 'pseudonym:erased-9' });
    expect((await row(1)).actor_id).toBe('pseudonym:erased-9');
    expect(await verify()).toMatchObject({ ok: true, entries: 2 });
  });
});
