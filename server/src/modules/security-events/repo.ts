/** Security events: the durable trail the monitoring module alerts on. One query per function. */
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { RecordedSecurityEvent, SecurityEventType } from './types.js';

export type { SecurityEventInput as SecurityEvent } from './types.js';

export interface EventCursor {
  at: Date;
  id: string;
}

export interface EventFilter {
  userId?: string | undefined;
  type?: SecurityEventType | undefined;
  ip?: string | undefined;
  since?: Date | undefined;
  before?: EventCursor | undefined;
  limit: number;
}

export type SecurityEventRow = Awaited<ReturnType<typeof listSecurityEvents>>[number];

export async function insertSecurityEvent(db: Db, event: RecordedSecurityEvent): Promise<void> {
  await db
    .insertInto('security_events')
    .values({
      id: event.id,
      type: event.type,
      severity: event.severity,
      user_id: event.userId,
      actor_key_id: event.apiKeyId,
      ip: event.ip,
      user_agent: event.userAgent,
      request_id: event.requestId,
      details: JSON.stringify(event.details),
      created_at: event.at,
    })
    .execute();
}

/**
 * Stores an event without logging it or telling the detector. Prefer
 * `SecurityEvents.record`; this remains for modules built without it (the details are
 * redacted all the same).
 */
/** Newest first, keyset-paginated on (created_at, id). */
export function listSecurityEvents(db: Db, filter: EventFilter) {
  let query = db.selectFrom('security_events').select(['id', 'type', 'severity', 'user_id', 'actor_key_id', 'ip', 'user_agent', 'request_id', 'details', 'created_at']).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.ip) query = query.where('ip', '=', filter.ip);
  if (filter.since) query = query.where('created_at', '>=', filter.since);
  const before = filter.before;
  if (before) {
    query = query.where((eb) => eb.or([eb('created_at', '<', before.at), eb.and([eb('created_at', '=', before.at), eb('id', '<', before.id)])]));
  }
  return query.execute();
}

/** Failed sign-ins since `since`, grouped by account (the throttle's account key) and by IP. */
export async function countFailedSignIns(db: Db, since: Date, limit: number) {
  const base = db.selectFrom('security_events').where('type', '=', 'auth.sign_in_failed').where('created_at', '>=', since);
  const account = sql<string | null>`details->>'account'`;
  const [total, byAccount, byIp] = await Promise.all([
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirst(),
    base
      .select([account.as('account'), sql<string | null>`max(user_id::text)`.as('user_id'), (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy(account)
      .orderBy('n', 'desc')
      .limit(limit)
      .execute(),
    base
      .select(['ip', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('ip')
      .orderBy('n', 'desc')
      .limit(limit)
      .execute(),
  ]);
  return { total: Number(total?.n ?? 0), byAccount, byIp };
}
