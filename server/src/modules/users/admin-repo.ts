/** Queries behind the administration of accounts (admin-service.ts); no rules here. */
import type { Db } from '../../platform/db/database.js';
import type { UserRow } from './repo.js';

/** What the account list shows of a user: no hashes, no secrets. */
export type AdminUserRow = Pick<UserRow, 'id' | 'email' | 'name' | 'role' | 'created_at' | 'email_verified_at' | 'totp_enabled_at' | 'disabled_at'>;

const LISTED = ['id', 'email', 'name', 'role', 'created_at', 'email_verified_at', 'totp_enabled_at', 'disabled_at'] as const;

/** `%`, `_` and `\` match themselves in the pattern (PostgreSQL's default LIKE escape is `\`). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Users whose email or name contains `q` (case-insensitive), newest first; `limit` rows from `offset`. */
export function searchUsers(db: Db, filter: { q?: string | undefined; limit: number; offset: number }): Promise<AdminUserRow[]> {
  let query = db.selectFrom('users').select(LISTED);
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    query = query.where((eb) => eb.or([eb('email', 'ilike', pattern), eb('name', 'ilike', pattern)]));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
}

export function findAdminUser(db: Db, id: string): Promise<AdminUserRow | undefined> {
  return db.selectFrom('users').select(LISTED).where('id', '=', id).executeTakeFirst();
}

/**
 * Locks the enabled administrators' rows, in id order (so two transactions never wait on
 * each other in a circle), and returns their ids. A transaction that waited reads the rows
 * again as committed: an administrator disabled meanwhile is no longer counted.
 */
export async function lockEnabledAdmins(trx: Db): Promise<string[]> {
  const rows = await trx.selectFrom('users').select('id').where('role', '=', 'admin').where('disabled_at', 'is', null).orderBy('id').forUpdate().execute();
  return rows.map((row) => row.id);
}

/** Sets disabled_at unless already set; returns whether it did. */
export async function markDisabled(trx: Db, id: string, now: Date): Promise<boolean> {
  const result = await trx.updateTable('users').set({ disabled_at: now, updated_at: now }).where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Clears disabled_at if set; returns whether it did. */
export async function markEnabled(trx: Db, id: string, now: Date): Promise<boolean> {
  const result = await trx.updateTable('users').set({ disabled_at: null, updated_at: now }).where('id', '=', id).where('disabled_at', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
