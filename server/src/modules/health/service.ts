import type { Database } from '../../platform/db/database.js';
import type { StorageState, StorageStatus } from '../../platform/storage/free-space.js';
import type { Store } from '../../platform/store/store.js';

export type CheckState = 'ok' | 'failed';

/**
 * Pings each dependency, bounded by `timeoutMs`, and reports which ones answered; `crypto`:
 * whether the master keys unwrap the data keys (crypto-check.ts: cached, and not failed by
 * a slow database — the database check reports that).
 */
export async function checkReadiness(deps: { database: Database; store: Store; crypto: { state(waitMs: number): Promise<CheckState> }; storage: { state(): Promise<StorageState> }; timeoutMs: number }): Promise<{
  database: CheckState;
  store: CheckState;
  crypto: CheckState;
  storage: StorageStatus;
}> {
  const [database, store, crypto, storage] = await Promise.all([
    probe(() => deps.database.ping(), deps.timeoutMs),
    probe(() => deps.store.ping(), deps.timeoutMs),
    deps.crypto.state(deps.timeoutMs),
    storageStatus(deps.storage, deps.timeoutMs),
  ]);
  return { database, store, crypto, storage };
}

/** Free space under DATA_DIR (the guard caches it for a second); a statfs that hangs counts as failed. */
async function storageStatus(storage: { state(): Promise<StorageState> }, timeoutMs: number): Promise<StorageStatus> {
  let status: StorageStatus = 'failed';
  const measured = await probe(async () => {
    status = (await storage.state()).status;
  }, timeoutMs);
  return measured === 'ok' ? status : 'failed';
}

async function probe(check: () => Promise<void>, timeoutMs: number): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckState>((resolve) => {
    timer = setTimeout(() => resolve('failed'), timeoutMs);
  });
  try {
    return await Promise.race([
      check().then(
        () => 'ok' as const,
        () => 'failed' as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
