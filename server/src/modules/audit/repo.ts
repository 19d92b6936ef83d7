/** Queries of the audit log. Appends and checkpoints run under the chain lock (lockChain). */
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { AuditCheckpointsTable, AuditEntriesTable } from '../../platform/db/schema/index.js';

export type AuditEntryRow = Selectable<AuditEntriesTable>;
export type AuditCheckpointRow = Selectable<AuditCheckpointsTable>;

// Arbitrary constant naming "the audit chain" among advisory locks (migrations use 4_242_001).
const CHAIN_LOCK = 4_242_014;

/**
 * Serialises appends: held until the transaction ends, so the next appender reads the
 * head this one wrote. Works on one PGlite session and across a PostgreSQL pool alike.
 */
export async function lockChain(trx: Db): Promise<void> {
  await sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`.execute(trx);
}

export async function head(db: Db): Promise<{ seq: string; hash: string } | undefined> {
  return db.selectFrom('audit_entries').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

export async function insertEntry(trx: Db, row: Insertable<AuditEntriesTable>): Promise<void> {
  await trx.insertInto('audit_entries').values(row).execute();
}

export async function lastCheckpointSeq(db: Db): Promise<number> {
  const row = await db.selectFrom('audit_checkpoints').select(['seq']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? Number(row.seq) : 0;
}

export async function insertCheckpoint(trx: Db, row: Insertable<AuditCheckpointsTable>): Promise<void> {
  await trx.insertInto('audit_checkpoints').values(row).execute();
}

/** Entries with after < seq ≤ to, in order, at most `limit`. */
export async function entriesAfter(db: Db, after: number, limit: number, to?: number): Promise<AuditEntryRow[]> {
  let query = db.selectFrom('audit_entries').selectAll().where('seq', '>', String(after));
  if (to !== undefined) query = query.where('seq', '<=', String(to));
  return query.orderBy('seq').limit(limit).execute();
}

export async function checkpoints(db: Db): Promise<AuditCheckpointRow[]> {
  return db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').execute();
}

/**
 * Replaces a user's identifiers by the pseudonym in the personal fields, clears the IP
 * of what they did, drops the salts. The trigger lets this UPDATE through only inside
 * this transaction (set_config(…, true)) and only for the personal columns.
 */
export async function pseudonymise(trx: Db, userId: string, pseudonym: string, now: Date): Promise<number> {
  await sql`select set_config('bastion.audit_pseudonymise', 'on', true)`.execute(trx);
  const result = await trx
    .updateTable('audit_entries')
    .set((eb) => ({
      actor_id: eb.case().when('actor_id', '=', userId).then(pseudonym).else(eb.ref('actor_id')).end(),
      actor_ip: eb
        .case()
        .when('actor_id', '=', userId)
        .then(sql<null>`null`)
        .else(eb.ref('actor_ip'))
        .end(),
      subject_id: eb.case().when('subject_id', '=', userId).then(pseudonym).else(eb.ref('subject_id')).end(),
      personal_salt: null,
      pseudonymised_at: eb.fn.coalesce('pseudonymised_at', sql<Date>`${now}::timestamptz`),
    }))
    .where((eb) => eb.or([eb('actor_id', '=', userId), eb('subject_id', '=', userId)]))
    .executeTakeFirst();
  await sql`select set_config('bastion.audit_pseudonymise', 'off', true)`.execute(trx);
  return Number(result.numUpdatedRows);
}

/**
 * Retention: pseudonymises up to `limit` entries written before `cutoff` that still hold
 * personal fields (identifiers become `pseudonym`, IPs are cleared). Returns how many.
 */
export async function pseudonymiseBefore(trx: Db, cutoff: Date, pseudonym: string, now: Date, limit: number): Promise<number> {
  await sql`select set_config('bastion.audit_pseudonymise', 'on', true)`.execute(trx);
  const result = await trx
    .updateTable('audit_entries')
    .set((eb) => ({
      actor_id: eb
        .case()
        .when('actor_id', 'is', null)
        .then(sql<null>`null`)
        .when('actor_id', 'like', 'pseudonym:%')
        .then(eb.ref('actor_id'))
        .else(pseudonym)
        .end(),
      actor_ip: null,
      subject_id: eb
        .case()
        .when('subject_id', 'is', null)
        .then(sql<null>`null`)
        .when('subject_id', 'like', 'pseudonym:%')
        .then(eb.ref('subject_id'))
        .else(pseudonym)
        .end(),
      personal_salt: null,
      pseudonymised_at: eb.fn.coalesce('pseudonymised_at', sql<Date>`${now}::timestamptz`),
    }))
    .where('seq', 'in', (eb) =>
      eb
        .selectFrom('audit_entries')
        .select('seq')
        .where('at', '<', cutoff)
        .where((w) => w.or([w('personal_salt', 'is not', null), w('actor_ip', 'is not', null)]))
        .orderBy('seq')
        .limit(limit),
    )
    .executeTakeFirst();
  await sql`select set_config('bastion.audit_pseudonymise', 'off', true)`.execute(trx);
  return Number(result.numUpdatedRows);
}
