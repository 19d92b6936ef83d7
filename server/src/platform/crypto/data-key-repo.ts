/** Queries on data_keys; no rules here. */
import type { Db } from '../db/database.js';
import type { DataKeysTable } from '../db/schema/index.js';

export type KeyScope = DataKeysTable['scope'];

export interface DataKeyRow {
  id: string;
  scope: KeyScope;
  owner_id: string;
  master_key_id: string;
  wrapped_key: Buffer;
}

const COLUMNS = ['id', 'scope', 'owner_id', 'master_key_id', 'wrapped_key'] as const;

export function findDataKeyById(db: Db, id: string): Promise<DataKeyRow | undefined> {
  return db.selectFrom('data_keys').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export function findDataKeyByOwner(db: Db, scope: KeyScope, ownerId: string): Promise<DataKeyRow | undefined> {
  return db.selectFrom('data_keys').select(COLUMNS).where('scope', '=', scope).where('owner_id', '=', ownerId).executeTakeFirst();
}

/** Inserts unless the owner already has a key (a concurrent writer won); returns whether it inserted. */
export async function insertDataKey(db: Db, row: DataKeyRow): Promise<boolean> {
  const result = await db
    .insertInto('data_keys')
    .values(row)
    .onConflict((oc) => oc.columns(['scope', 'owner_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function deleteDataKeyByOwner(db: Db, scope: KeyScope, ownerId: string): Promise<string | undefined> {
  const row = await db.deleteFrom('data_keys').where('scope', '=', scope).where('owner_id', '=', ownerId).returning('id').executeTakeFirst();
  return row?.id;
}

/** The next batch of keys not wrapped by `activeId`, in id order after `afterId`. */
export function listKeysToRewrap(db: Db, activeId: string, afterId: string | null, limit: number): Promise<DataKeyRow[]> {
  let query = db.selectFrom('data_keys').select(COLUMNS).where('master_key_id', '<>', activeId);
  if (afterId) query = query.where('id', '>', afterId);
  return query.orderBy('id').limit(limit).execute();
}

/** Replaces a wrapped key only if it is still wrapped by `fromMasterKeyId` (safe to run twice). */
export async function updateWrappedKey(db: Db, id: string, fromMasterKeyId: string, toMasterKeyId: string, wrapped: Buffer): Promise<boolean> {
  const result = await db.updateTable('data_keys').set({ master_key_id: toMasterKeyId, wrapped_key: wrapped, rewrapped_at: new Date() }).where('id', '=', id).where('master_key_id', '=', fromMasterKeyId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countKeysByMasterKey(db: Db): Promise<{ master_key_id: string; count: number }[]> {
  const rows = await db
    .selectFrom('data_keys')
    .select(['master_key_id', (eb) => eb.fn.countAll<string>().as('count')])
    .groupBy('master_key_id')
    .orderBy('master_key_id')
    .execute();
  return rows.map((r) => ({ master_key_id: r.master_key_id, count: Number(r.count) }));
}

/** One data key per master key that wraps any (which one is unspecified): samples to test the master keys with. */
export function oneDataKeyPerMasterKey(db: Db): Promise<DataKeyRow[]> {
  return db.selectFrom('data_keys').distinctOn('master_key_id').select(COLUMNS).orderBy('master_key_id').execute();
}
