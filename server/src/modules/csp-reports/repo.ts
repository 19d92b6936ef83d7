/** Queries on csp_reports; no rules here. `db` may be a transaction. */
import type { Insertable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { CspReportsTable } from '../../platform/db/schema/index.js';

export type NewCspReport = Insertable<CspReportsTable>;

/** Stores a batch of reports in one statement (at least one row). */
export async function insertCspReports(db: Db, rows: NewCspReport[]): Promise<void> {
  await db.insertInto('csp_reports').values(rows).execute();
}
