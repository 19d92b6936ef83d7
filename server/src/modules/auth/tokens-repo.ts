/** Single-use tokens (verification, reset, MFA step, "not me", invitations), stored hashed. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { AuthTokensTable } from '../../platform/db/schema/index.js';
import type { AuthTokenKind } from '../../domain/accounts.js';

export type AuthTokenRow = Selectable<AuthTokensTable>;

export async function insertAuthToken(db: Db, row: Omit<AuthTokenRow, 'used_at'>): Promise<void> {
  await db.insertInto('auth_tokens').values(row).execute();
}

/** An unexpired, unused token of `kind` with this hash. */
export function findUsableToken(db: Db, kind: AuthTokenKind, tokenHash: string, now: Date): Promise<AuthTokenRow | undefined> {
  return db.selectFrom('auth_tokens').selectAll().where('kind', '=', kind).where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', now).executeTakeFirst();
}

/** Marks a token used; false if someone used it first (single use under concurrency). */
export async function consumeToken(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('auth_tokens').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Invalidates every unused token of `kind`, whoever it was issued to. */
export async function invalidateAllTokens(db: Db, kind: AuthTokenKind, now: Date): Promise<void> {
  await db.updateTable('auth_tokens').set({ used_at: now }).where('kind', '=', kind).where('used_at', 'is', null).execute();
}

/** Invalidates every unused token of `kind` for a user (a newer one replaces them). */
export async function invalidateTokens(db: Db, userId: string, kind: AuthTokenKind, now: Date): Promise<void> {
  await db.updateTable('auth_tokens').set({ used_at: now }).where('user_id', '=', userId).where('kind', '=', kind).where('used_at', 'is', null).execute();
}
