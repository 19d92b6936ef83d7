/**
 * Master key rotation: re-wrap every data key to the active master key (online,
 * batched, resumable, idempotent) and check that a key can be retired.
 */
import type { Db } from '../db/database.js';
import { CryptoError } from './crypto-error.js';
import { countKeysByMasterKey, listKeysToRewrap, updateWrappedKey } from './data-key-repo.js';
import { unwrapDataKey, wrapDataKey } from './envelope.js';
import type { Keyring } from './keyring.js';

export interface RewrapProgress {
  done: number;
  total: number;
}

export interface RewrapResult {
  rewrapped: number;
  /** Keys another process re-wrapped or deleted meanwhile. */
  skipped: number;
}

/** Re-wraps data keys still wrapped by older master keys. Safe to interrupt and run again. */
export async function rewrapDataKeys(db: Db, keyring: Keyring, options: { batchSize?: number; onProgress?: (progress: RewrapProgress) => void } = {}): Promise<RewrapResult> {
  const active = keyring.active;
  const total = (await countKeysByMasterKey(db)).filter((r) => r.master_key_id !== active.id).reduce((n, r) => n + r.count, 0);
  const result: RewrapResult = { rewrapped: 0, skipped: 0 };
  let after: string | null = null;
  for (;;) {
    const batch = await listKeysToRewrap(db, active.id, after, options.batchSize ?? 500);
    if (batch.length === 0) break;
    for (const row of batch) {
      const dataKey = unwrapDataKey(keyring, row);
      const wrapped = wrapDataKey(active.key, active.id, row, dataKey);
      if (await updateWrappedKey(db, row.id, row.master_key_id, active.id, wrapped)) result.rewrapped++;
      else result.skipped++;
    }
    after = batch.at(-1)!.id;
    options.onProgress?.({ done: result.rewrapped + result.skipped, total });
  }
  return result;
}

export class KeyInUseError extends Error {
  constructor(
    readonly keyId: string,
    readonly dataKeys: number,
  ) {
    super(`master key "${keyId}" still wraps ${dataKeys} data key(s); run \`bastion keys rewrap\` first`);
    this.name = 'KeyInUseError';
  }
}

/** Throws unless `keyId` can be removed: not active and wrapping no data key. */
export async function assertRetirable(db: Db, keyring: Keyring, keyId: string): Promise<void> {
  if (keyId === keyring.active.id) throw new Error(`master key "${keyId}" is the active key; rotate to a new key first`);
  if (!keyring.get(keyId)) throw new CryptoError('unknown_master_key');
  const inUse = (await countKeysByMasterKey(db)).find((r) => r.master_key_id === keyId);
  if (inUse && inUse.count > 0) throw new KeyInUseError(keyId, inUse.count);
}

/** Master key ids that wrap data keys but are missing from the keyring (their records cannot be read). */
export async function findUnconfiguredMasterKeys(db: Db, keyring: Keyring): Promise<string[]> {
  return (await countKeysByMasterKey(db)).filter((r) => !keyring.get(r.master_key_id)).map((r) => r.master_key_id);
}
