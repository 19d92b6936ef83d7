/** Durable session records (listing, audit, and on the embedded default the session itself); the live state is in the store. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { SessionsTable } from '../../platform/db/schema/index.js';

export type SessionRow = Selectable<SessionsTable>;

export async function insertSession(db: Db, row: Omit<SessionRow, 'revoked_at' | 'revoked_reason'>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

/** Sessions not ended, not past their absolute limit and used after `idleSince` (the idle limit). */
export function listActiveSessions(db: Db, userId: string, now: Date, idleSince: Date): Promise<SessionRow[]> {
  return db.selectFrom('sessions').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).where('expires_at', '>', now).where('last_seen_at', '>', idleSince).orderBy('last_seen_at', 'desc').execute();
}

export function findSessionByTokenHash(db: Db, tokenHash: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export function sessionsRevokedSince(db: Db, since: Date): Promise<{ id: string; revoked_at: Date | null }[]> {
  return db.selectFrom('sessions').select(['id', 'revoked_at']).where('revoked_at', '>', since).execute();
}

export function findUserSession(db: Db, userId: string, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export async function touchSession(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
}

/** Revokes sessions of a user (all, or all but one); returns the ids and token hashes revoked. */
export async function revokeSessions(db: Db, userId: string, filter: { onlyId?: string; exceptId?: string }, reason: string, now: Date): Promise<{ id: string; token_hash: string }[]> {
  let query = db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
  if (filter.onlyId) query = query.where('id', '=', filter.onlyId);
  if (filter.exceptId) query = query.where('id', '<>', filter.exceptId);
  return query.returning(['id', 'token_hash']).execute();
}
