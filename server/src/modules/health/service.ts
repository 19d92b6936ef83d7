import type { Database } from '../../platform/db/database.js';
import type { Store } from '../../platform/store/store.js';

export type CheckState = 'ok' | 'failed';

/** Pings each dependency, bounded by `timeoutMs`, and reports which ones answered. */
export async function checkReadiness(deps: { database: Database; store: Store; timeoutMs: number }): Promise<{
  database: CheckState;
  store: CheckState;
}> {
  const [database, store] = await Promise.all([probe(() => deps.database.ping(), deps.timeoutMs), probe(() => deps.store.ping(), deps.timeoutMs)]);
  return { database, store };
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
