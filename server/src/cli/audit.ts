/**
 * `bastion audit …`: verify the audit log's hash chain and signed checkpoints, or export
 * it as JSON Lines (one entry per line, oldest first) for archiving or offline review.
 */
import { once } from 'node:events';
import type { Config } from '../config/index.js';
import { withDatabase } from './database.js';
import { createLogger } from '../platform/log.js';
import { AuditKeys } from '../modules/audit/keys.js';
import { entriesAfter } from '../modules/audit/repo.js';
import { verifyAuditLog } from '../modules/audit/verify.js';
import { entryView } from '../modules/audit/view.js';
import { systemClock } from '../platform/clock.js';
import { Encryptor } from '../platform/crypto/envelope.js';
import { loadKeyring } from '../platform/crypto/keyring.js';

export const AUDIT_USAGE = `  audit verify     recompute the audit log's hash chain and checkpoints (exit 1 names the first broken entry)
  audit export [--from SEQ] [--to SEQ]
                   print audit entries as JSON Lines on stdout`;

const SEQ = /^[1-9][0-9]{0,14}$/;
const BATCH = 1_000;

function option(args: string[], name: string): string | undefined | null {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const value = args[index + 1];
  return value !== undefined && SEQ.test(value) ? value : null;
}

export async function runAudit(config: Config, args: string[]): Promise<number> {
  const [sub] = args;
  if (sub === 'verify') {
    const logger = createLogger('warn');
    return withDatabase(config, async (database) => {
      const { keyring } = loadKeyring(config, logger);
      const keys = new AuditKeys(database.db, new Encryptor(database.db, keyring), systemClock);
      const result = await verifyAuditLog(database.db, keys);
      const summary = `${result.entries} entries, ${result.checkpoints} signed checkpoint(s)`;
      if (result.ok) {
        console.log(`Audit log OK: ${summary}.`);
        return 0;
      }
      console.error(`Audit log BROKEN at entry ${result.broken.seq} (${result.broken.kind}): ${result.broken.message}.\nChecked before the break: ${summary}.`);
      return 1;
    });
  }
  if (sub === 'export') {
    const from = option(args, '--from');
    const to = option(args, '--to');
    const unknown = args.slice(1).filter((a, i, all) => !['--from', '--to'].includes(a) && !['--from', '--to'].includes(all[i - 1] ?? ''));
    if (from === null || to === null || unknown.length > 0 || (from && to && Number(from) > Number(to))) {
      console.error(`bastion audit export: --from and --to take sequence numbers (1, 2, …), --from ≤ --to\n${AUDIT_USAGE}`);
      return 2;
    }
    return withDatabase(config, async (database) => {
      let after = from ? Number(from) - 1 : 0;
      const last = to ? Number(to) : undefined;
      for (;;) {
        const rows = await entriesAfter(database.db, after, BATCH, last);
        for (const row of rows) {
          if (!process.stdout.write(`${JSON.stringify(entryView(row))}\n`)) await once(process.stdout, 'drain');
        }
        if (rows.length < BATCH) return 0;
        after = Number(rows.at(-1)!.seq);
      }
    });
  }
  console.error(`bastion audit: expected one of\n${AUDIT_USAGE}`);
  return 2;
}
