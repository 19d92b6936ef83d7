/** `bastion retention run [--dry-run]`: applies the RETENTION_* settings once and prints what went. */
import { withDatabase } from './database.js';
import type { Config } from '../config/index.js';
import { createLogger } from '../platform/log.js';
import { systemClock } from '../platform/clock.js';
import { retentionSettings } from '../modules/privacy/module.js';
import { RetentionService } from '../modules/privacy/retention.js';

export const RETENTION_USAGE = `  retention run [--dry-run]
                   purge data past its RETENTION_* period (--dry-run: only count what would go)`;

export async function runRetention(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const unknown = rest.filter((a) => a !== '--dry-run');
  if (sub !== 'run' || unknown.length > 0) {
    console.error(`Usage:\n${RETENTION_USAGE}`);
    return 2;
  }
  const dryRun = rest.includes('--dry-run');
  return withDatabase(config, async (database) => {
    const service = new RetentionService(database.db, systemClock, createLogger('warn'), retentionSettings(config));
    const results = await service.run({ dryRun });
    for (const r of results) {
      const done = { deleted: 'deleted', would_delete: 'would be deleted', pseudonymised: 'pseudonymised', would_pseudonymise: 'would be pseudonymised' } as const;
      const what = r.action === 'kept' ? 'kept forever (0 days)' : `${r.rows} row(s) ${done[r.action]}`;
      console.log(`${r.class.padEnd(16)} ${String(r.days).padStart(6)} days  ${what}`);
    }
    if (dryRun) console.log('Dry run: nothing was deleted.');
    return 0;
  });
}
