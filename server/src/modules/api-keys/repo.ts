/** Queries on api_keys; no rules here. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ApiKeysTable } from '../../platform/db/schema/index.js';

export type ApiKeyRow = Selectable<ApiKeysTable>;

export async function insertApiKey(db: Db, row: Omit<ApiKeyRow, 'last_used_at' | 'last_used_ip' | 'revoked_at'>): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
}

/** The key and what its user's state says of it, in one round trip (it runs on every request made with a key). */
export function findApiKeyWithUserByHash(db: Db, keyHash: string): Promise<(ApiKeyRow & { user_password_reset_required: boolean; user_disabled_at: Date | null }) | undefined> {
  return db
    .selectFrom('api_keys')
    .innerJoin('users', 'users.id', 'api_keys.user_id')
    .selectAll('api_keys')
    .select(['users.password_reset_required as user_password_reset_required', 'users.disabled_at as user_disabled_at'])
    .where('api_keys.key_hash', '=', keyHash)
    .executeTakeFirst();
}

export function listApiKeys(db: Db, userId: string): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('created_at', 'desc').execute();
}

export async function revokeApiKey(db: Db, userId: string, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The fields that decide whether a key (and what was minted from it) may still be used. */
export function findApiKeyStatus(db: Db, id: string): Promise<Pick<ApiKeyRow, 'revoked_at' | 'expires_at' | 'allowed_cidrs'> | undefined> {
  return db.selectFrom('api_keys').select(['revoked_at', 'expires_at', 'allowed_cidrs']).where('id', '=', id).executeTakeFirst();
}

/** Revokes every live key of a user; returns the ids revoked. */
export function revokeUserApiKeys(db: Db, userId: string, now: Date): Promise<{ id: string }[]> {
  return db.updateTable('api_keys').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).returning('id').execute();
}

export async function recordApiKeyUse(db: Db, id: string, ip: string, now: Date): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: now, last_used_ip: ip }).where('id', '=', id).execute();
}
