/** For CLI commands: open the configured database, bring it up to date, run, close. */
import type { Config } from '../config/index.js';
import { createLogger } from '../platform/log.js';
import { openDatabase, type Database } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrator.js';

export async function withDatabase(config: Config, run: (database: Database) => Promise<number>): Promise<number> {
  const database = await openDatabase(config, createLogger('warn'));
  try {
    await migrate(database.db);
    return await run(database);
  } finally {
    await database.close();
  }
}
