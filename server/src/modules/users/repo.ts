/** Queries on users; no rules here. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { UsersTable } from '../../platform/db/schema/index.js';

export type UserRow = Selectable<UsersTable>;

export function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The columns the per-request gates decide on (gate-state.ts). */
export function findGateColumns(db: Db, id: string): Promise<Pick<UserRow, 'role' | 'totp_enabled_at' | 'disabled_at'> | undefined> {
  return db.selectFrom('users').select(['role', 'totp_enabled_at', 'disabled_at']).where('id', '=', id).executeTakeFirst();
}

/** Inserts unless the email is taken; returns whether it inserted. */
export async function insertUser(db: Db, row: { id: string; email: string; name: string; role: UserRow['role']; password_hash: string; email_verified_at: Date | null; created_at: Date }): Promise<boolean> {
  const result = await db
    .insertInto('users')
    .values({ ...row, password_changed_at: row.created_at, updated_at: row.created_at })
    .onConflict((oc) => oc.column('email').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function updatePasswordHash(db: Db, id: string, passwordHash: string, now: Date, changed: boolean): Promise<void> {
  await db
    .updateTable('users')
    .set({
      password_hash: passwordHash,
      updated_at: now,
      ...(changed ? { password_changed_at: now, password_reset_required: false } : {}),
    })
    .where('id', '=', id)
    .execute();
}

export async function markEmailVerified(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ email_verified_at: now, updated_at: now }).where('id', '=', id).where('email_verified_at', 'is', null).execute();
}

export async function setPasswordResetRequired(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ password_reset_required: true, updated_at: now }).where('id', '=', id).execute();
}

export async function setPendingTotpSecret(db: Db, id: string, secret: Buffer, now: Date): Promise<void> {
  await db.updateTable('users').set({ totp_secret: secret, updated_at: now }).where('id', '=', id).where('totp_enabled_at', 'is', null).execute();
}

export async function enableTotp(db: Db, id: string, step: number, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ totp_enabled_at: now, totp_last_step: String(step), updated_at: now })
    .where('id', '=', id)
    .where('totp_enabled_at', 'is', null)
    .where('totp_secret', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function disableTotp(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('users').set({ totp_secret: null, totp_enabled_at: null, totp_last_step: null, updated_at: now }).where('id', '=', id).execute();
}

/**
 * Records `step` as the last accepted TOTP step only if it is newer than the stored one:
 * atomic across API copies, so a code can be used once (RFC 6238 §5.2, ASVS 6.5.1).
 */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ totp_last_step: String(step) })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', String(step))]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Whether any administrator exists (first-run setup is open until one does). */
export async function adminExists(db: Db): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function countUsers(db: Db): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
