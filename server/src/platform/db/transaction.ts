/** Transactions that compose: a repo function that needs one joins its caller's, if any. */
import type { Db } from './database.js';

/**
 * Runs `work` in `db` when it is a transaction already (the caller's: the work commits or
 * rolls back with the rest of it), else in a new transaction of its own.
 */
export function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
