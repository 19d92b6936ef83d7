/** Queries on api_keys; no rules here. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ApiKeysTable } from '../../platform/db/schema/index.js';

export type ApiKeyRow = Selectable<ApiKeysTable>;

export async function insertApiKey(db: Db, row: Omit<ApiKeyRow, 'last_used_at' | 'last_used_ip' | 'revoked_at'>): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
}

/** A key with what its user's state says of it. */
export type ApiKeyWithUser = ApiKeyRow & { user_password_reset_required: boolean; user_disabled_at: Date | null };

/** The key and what its user's state says of it, in one round trip (it runs on every request made with a key that is not cached). */
export function findApiKeyWithUserByHash(db: Db, keyHash: string): Promise<ApiKeyWithUser | undefined> {
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

/** Revokes the key if it is live; its hash (for the caches to drop), or null when nothing was revoked. */
export async function revokeApiKey(db: Db, userId: string, id: string, now: Date): Promise<string | null> {
  const row = await db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('user_id', '=', userId).where('revoked_at', 'is', null).returning('key_hash').executeTakeFirst();
  return row?.key_hash ?? null;
}

/** The fields that decide whether a key (and what was minted from it) may still be used. */
export function findApiKeyStatus(db: Db, id: string): Promise<Pick<ApiKeyRow, 'revoked_at' | 'expires_at' | 'allowed_cidrs'> | undefined> {
  return db.selectFrom('api_keys').select(['revoked_at', 'expires_at', 'allowed_cidrs']).where('id', '=', id).executeTakeFirst();
}

/** Revokes every live key of a user; returns the ids and hashes revoked. */
export function revokeUserApiKeys(db: Db, userId: string, now: Date): Promise<{ id: string; key_hash: string }[]> {
  return db.updateTable('api_keys').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).returning(['id', 'key_hash']).execute();
}

export async function recordApiKeyUse(db: Db, id: string, ip: string, now: Date): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: now, last_used_ip: ip }).where('id', '=', id).execute();
}
