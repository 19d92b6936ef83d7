/**
 * For CLI commands: open the configured database, bring it up to date, run, close. On the
 * embedded default the command claims DATA_DIR for its run: while `bastion serve` holds it,
 * opening throws `DataDirInUseError` ("Bastion is running with this DATA_DIR (pid N); use the
 * admin screen or stop it first"), which `main` prints and exits 1 with, never acting on a
 * stale copy of the server's database.
 */
import type { Config } from '../config/index.js';
import { createLogger } from '../platform/log.js';
import { openDatabase, type Database } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrator.js';

export async function withDatabase(config: Config, run: (database: Database) => Promise<number>): Promise<number> {
  const database = await openDatabase(config, createLogger('warn'), { owner: 'command' });
  try {
    await migrate(database.db);
    return await run(database);
  } finally {
    await database.close();
  }
}
