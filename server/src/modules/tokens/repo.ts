/** Queries on refresh_tokens; no rules here. `db` may be a transaction. */
import type { Insertable, Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { RefreshTokensTable } from '../../platform/db/schema/index.js';

export type RefreshTokenRow = Selectable<RefreshTokensTable>;

export async function insertRefreshToken(db: Db, row: Insertable<RefreshTokensTable>): Promise<void> {
  await db.insertInto('refresh_tokens').values(row).execute();
}

export function findRefreshToken(db: Db, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export function findRefreshFamily(db: Db, tokenHash: string): Promise<{ family_id: string } | undefined> {
  return db.selectFrom('refresh_tokens').select('family_id').where('token_hash', '=', tokenHash).executeTakeFirst();
}

/**
 * Spends a refresh token in one conditional UPDATE: only while it is unused and unrevoked
 * and no member of its family is revoked (a pair minted by a refresh that raced a family
 * revocation dies at its first use). True when this call spent it.
 */
export async function claimRefreshToken(db: Db, id: string, familyId: string, now: Date): Promise<boolean> {
  const claimed = await db
    .updateTable('refresh_tokens')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where(({ exists, not, selectFrom }) => not(exists(selectFrom('refresh_tokens as sibling').select('sibling.id').where('sibling.family_id', '=', familyId).where('sibling.revoked_at', 'is not', null))))
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

export async function revokeRefreshFamily(db: Db, familyId: string, now: Date): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
}

/** Revokes every live refresh token of a user; returns the families they belonged to. */
export async function revokeUserRefreshTokens(db: Db, userId: string, now: Date): Promise<string[]> {
  const rows = await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).returning('family_id').execute();
  return [...new Set(rows.map((row) => row.family_id))];
}
