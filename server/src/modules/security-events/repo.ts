/** Security events: the durable trail the monitoring module alerts on. */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../platform/db/database.js';

export interface SecurityEvent {
  type: string;
  userId?: string | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

export async function recordSecurityEvent(db: Db, event: SecurityEvent, now: Date): Promise<void> {
  await db
    .insertInto('security_events')
    .values({
      id: randomUUID(),
      type: event.type,
      user_id: event.userId ?? null,
      ip: event.ip ?? null,
      details: JSON.stringify(event.details ?? {}),
      created_at: now,
    })
    .execute();
}

export function listSecurityEvents(db: Db, filter: { userId?: string; type?: string; limit?: number }) {
  let query = db.selectFrom('security_events').selectAll().orderBy('created_at', 'desc').limit(filter.limit ?? 100);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.type) query = query.where('type', '=', filter.type);
  return query.execute();
}
