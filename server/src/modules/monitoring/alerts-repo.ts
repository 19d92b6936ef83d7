/** Alerts: one query per function. */
import type { Db } from '../../platform/db/database.js';

export interface AlertCursor {
  at: Date;
  id: string;
}

/** The open (unacknowledged) alert for rule + key last seen at or after `since`. */
export function findOpenAlert(db: Db, rule: string, key: string, since: Date) {
  return db
    .selectFrom('security_alerts')
    .select(['id', 'count'])
    .where('rule', '=', rule)
    .where('key', '=', key)
    .where('acknowledged_at', 'is', null)
    .where('last_seen_at', '>=', since)
    .orderBy('last_seen_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function insertAlert(db: Db, row: { id: string; rule: string; key: string; severity: string; at: Date; details: Record<string, unknown> }): Promise<void> {
  await db
    .insertInto('security_alerts')
    .values({ id: row.id, rule: row.rule, key: row.key, severity: row.severity, first_seen_at: row.at, last_seen_at: row.at, count: 1, details: JSON.stringify(row.details) })
    .execute();
}

export async function bumpAlert(db: Db, id: string, at: Date, details: Record<string, unknown>): Promise<void> {
  await db
    .updateTable('security_alerts')
    .set((eb) => ({ count: eb('count', '+', 1), last_seen_at: at, details: JSON.stringify(details) }))
    .where('id', '=', id)
    .execute();
}

export function listAlerts(db: Db, filter: { status: 'open' | 'acknowledged' | 'all'; rule?: string | undefined; before?: AlertCursor | undefined; limit: number }) {
  let query = db
    .selectFrom('security_alerts')
    .select(['id', 'rule', 'key', 'severity', 'first_seen_at', 'last_seen_at', 'count', 'details', 'acknowledged_at', 'acknowledged_by'])
    .orderBy('last_seen_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit);
  if (filter.status === 'open') query = query.where('acknowledged_at', 'is', null);
  if (filter.status === 'acknowledged') query = query.where('acknowledged_at', 'is not', null);
  if (filter.rule) query = query.where('rule', '=', filter.rule);
  const before = filter.before;
  if (before) {
    query = query.where((eb) => eb.or([eb('last_seen_at', '<', before.at), eb.and([eb('last_seen_at', '=', before.at), eb('id', '<', before.id)])]));
  }
  return query.execute();
}

export type AlertRow = Awaited<ReturnType<typeof listAlerts>>[number];

/** Acknowledges an open alert; returns false when there is no such open alert. */
export async function acknowledgeAlert(db: Db, id: string, by: string, at: Date): Promise<boolean> {
  const result = await db.updateTable('security_alerts').set({ acknowledged_at: at, acknowledged_by: by }).where('id', '=', id).where('acknowledged_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function findAlert(db: Db, id: string) {
  return db.selectFrom('security_alerts').select(['id', 'acknowledged_at']).where('id', '=', id).executeTakeFirst();
}
