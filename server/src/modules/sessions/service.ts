/**
 * Sessions: opaque 256-bit tokens (`bst_sess_…`), only their SHA-256 stored. The live
 * state sits in the store under the token hash (shared by every API copy) with idle and
 * absolute expiry checked against the injected clock; the database keeps the record
 * for listing and audit. ASVS 7.2.3 (≥128-bit), 7.3.1/7.3.2 (timeouts), 7.4.1 (server-side logout).
 *
 * On the in-memory store (embedded default) the store starts empty with each process, so
 * the database row is the session's durable copy: a token the store does not know is
 * looked up by its hash and, if the row is neither revoked nor past its idle or absolute
 * limit, put back in the store (its CSRF token is derived from the session token, so it
 * comes back too). Chosen over persisting the memory store to DATA_DIR because the row
 * already holds everything and is written on every change (sign-in, last-seen, revocation),
 * so a restart or a crash loses nothing and revocation stays immediate (the row says
 * revoked before the store forgets); a snapshot file would be new machinery that lags
 * behind on a crash. With Redis the store stays the authority: a Redis loss signs people
 * out (docs/operations.md "What Redis holds") and the list shows only what it still holds.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { generateToken, hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { CacheStats } from '../../platform/store/cache.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import type { Store } from '../../platform/store/store.js';
import type { SessionState } from '../../principal.js';
import { findSessionByTokenHash, findUserSession, insertSession, listActiveSessions, revokeSessions, sessionsRevokedSince, touchSession, type SessionRow } from './repo.js';
import type { EventOrigin } from '../security-events/origin.js';

export interface RequestContext {
  ip: string;
  userAgent: string;
  /** The request's id, for the security events the sign-in raises. */
  requestId?: string;
}

export interface SessionTimeouts {
  idleMs: number;
  absoluteMs: number;
}

const key = (tokenHash: string) => `session:${tokenHash}`;
const revokedKey = (sessionId: string) => `revoked:session:${sessionId}`;
const REVOKED_MEMORY_MS = 2 * 60 * 60 * 1000;
const TOUCH_EVERY_MS = 60_000; // write last-seen at most once a minute per session
/**
 * How long an instance reuses a session it read from the store. Ending a session drops
 * it on every instance first (LocalCache broadcasts), so this bounds only how stale the
 * last-seen time may be, never how long a revoked session works.
 */
export const SESSION_CACHE_TTL_MS = 5_000;
const SESSION_CACHE_ENTRIES = 50_000;

/**
 * The session's CSRF token, derived from its secret token (HMAC), so a session restored from
 * its row has the token the browser holds. Knowing it reveals nothing of the session token.
 */
function csrfTokenFor(token: string): string {
  return createHmac('sha256', token).update('bastion csrf token').digest('base64url');
}

export class SessionService {
  /** Live sessions read recently, by token hash: most requests need no store round trip. */
  private readonly cache: LocalCache<SessionState>;
  /** The store does not outlive this process (memory): sessions come back from their rows. */
  private readonly restorable: boolean;

  constructor(
    private readonly db: Db,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly timeouts: SessionTimeouts,
    stats?: CacheStats,
  ) {
    this.restorable = store.kind === 'memory';
    this.cache = new LocalCache(store, 'session', { ttlMs: SESSION_CACHE_TTL_MS, maxEntries: SESSION_CACHE_ENTRIES, stats, now: () => clock.now().getTime() });
  }

  /** Starts a session; the returned token goes in the cookie and nowhere else. */
  async create(userId: string, context: RequestContext): Promise<{ token: string; state: SessionState }> {
    const { token, hash } = generateToken('sess');
    const now = this.clock.now().getTime();
    const state: SessionState = {
      id: randomUUID(),
      userId,
      csrfToken: csrfTokenFor(token),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.timeouts.absoluteMs,
    };
    await insertSession(this.db, {
      id: state.id,
      user_id: userId,
      token_hash: hash,
      ip: context.ip,
      user_agent: context.userAgent.slice(0, 512),
      created_at: new Date(now),
      last_seen_at: new Date(now),
      expires_at: new Date(state.expiresAt),
    });
    await this.save(hash, state);
    return { token, state };
  }

  /** The live session for a cookie token, or null when unknown, idle too long or past its absolute limit. */
  async authenticate(token: string): Promise<SessionState | null> {
    if (!/^bst_sess_[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const hash = hashToken(token);
    const cached = await this.cache.getOrLoad(hash, async () => {
      const raw = await this.store.get(key(hash));
      if (raw) return JSON.parse(raw) as SessionState;
      return this.restorable ? this.restore(token, hash) : null;
    });
    if (!cached) return null;
    const now = this.clock.now().getTime();
    if (this.isExpired(cached, now)) {
      await this.store.delete(key(hash));
      await this.cache.invalidate(hash);
      return null;
    }
    if (now - cached.lastSeenAt < TOUCH_EVERY_MS) return cached;
    const state = { ...cached, lastSeenAt: now };
    // A revocation may have deleted the session since we read it: never write it back.
    if (await this.isRevoked(state.id)) return null;
    await this.save(hash, state);
    if (await this.isRevoked(state.id)) {
      await this.store.delete(key(hash));
      await this.cache.invalidate(hash);
      return null;
    }
    this.cache.update(hash, state);
    await touchSession(this.db, state.id, new Date(now));
    return state;
  }

  /**
   * True while a user's session can still be used: not ended, not idle for the idle
   * timeout, not past its absolute limit. Refresh chains made from a session end with it;
   * asking does not count as activity (a token-refresh loop must not keep a session alive).
   */
  async isActive(userId: string, sessionId: string): Promise<boolean> {
    const row = await findUserSession(this.db, userId, sessionId);
    if (!row || row.revoked_at) return false;
    const raw = await this.store.get(key(row.token_hash));
    const now = this.clock.now().getTime();
    // Idle expiry lets the store drop it; logout deletes it. A memory store may just not have read it back yet.
    if (!raw) return this.restorable && this.rowLive(row, now);
    const state = JSON.parse(raw) as SessionState;
    return state.id === sessionId && !this.isExpired(state, now);
  }

  /** The user's sessions that can still be used: never an ended, idle or expired one. */
  async list(userId: string): Promise<SessionRow[]> {
    const now = this.clock.now();
    const rows = await listActiveSessions(this.db, userId, now, new Date(now.getTime() - this.timeouts.idleMs));
    if (this.restorable) return rows;
    // Redis is the authority: a session it no longer holds (lost with its data) is over.
    const held = await Promise.all(rows.map((row) => this.store.get(key(row.token_hash))));
    return rows.filter((_, index) => held[index] !== null);
  }

  /**
   * On the memory store: the access-token revocation markers of sessions ended shortly
   * before this process started (they lived in the previous process's store).
   */
  async restoreRevocations(): Promise<void> {
    if (!this.restorable) return;
    const now = this.clock.now().getTime();
    const rows = await sessionsRevokedSince(this.db, new Date(now - REVOKED_MEMORY_MS));
    await Promise.all(rows.map((row) => this.store.set(revokedKey(row.id), '1', { ttlMs: Math.max(1, (row.revoked_at?.getTime() ?? now) + REVOKED_MEMORY_MS - now) })));
  }

  /** A session the store does not hold, from its row (memory store only; see the top). */
  private async restore(token: string, hash: string): Promise<SessionState | null> {
    const row = await findSessionByTokenHash(this.db, hash);
    const now = this.clock.now().getTime();
    if (!row || !this.rowLive(row, now)) return null;
    const state: SessionState = {
      id: row.id,
      userId: row.user_id,
      csrfToken: csrfTokenFor(token),
      createdAt: row.created_at.getTime(),
      lastSeenAt: row.last_seen_at.getTime(),
      expiresAt: row.expires_at.getTime(),
    };
    await this.save(hash, state);
    // Ended while the row was read: never leave it written back.
    if (await this.isRevoked(state.id)) {
      await this.store.delete(key(hash));
      return null;
    }
    return state;
  }

  private rowLive(row: SessionRow, now: number): boolean {
    return !row.revoked_at && now < row.expires_at.getTime() && now - row.last_seen_at.getTime() < this.timeouts.idleMs;
  }

  /**
   * Ends one session of a user; false when it is not theirs or already ended. `_origin`: the
   * request that ended it, for the `session.revoked` event (security-events/observers.ts).
   */
  async revoke(userId: string, sessionId: string, reason: string, _origin?: EventOrigin): Promise<boolean> {
    const revoked = await revokeSessions(this.db, userId, { onlyId: sessionId }, reason, this.clock.now());
    await this.forget(revoked);
    return revoked.length > 0;
  }

  /** Ends every session of a user, optionally keeping one (the caller's); `_origin` as for revoke. */
  async revokeAll(userId: string, reason: string, exceptId?: string, _origin?: EventOrigin): Promise<number> {
    const revoked = await revokeSessions(this.db, userId, exceptId ? { exceptId } : {}, reason, this.clock.now());
    await this.forget(revoked);
    return revoked.length;
  }

  private isExpired(state: SessionState, now: number): boolean {
    return now >= state.expiresAt || now - state.lastSeenAt >= this.timeouts.idleMs;
  }

  private async save(hash: string, state: SessionState): Promise<void> {
    const now = this.clock.now().getTime();
    const ttlMs = Math.max(1, Math.min(state.expiresAt - now, this.timeouts.idleMs));
    await this.store.set(key(hash), JSON.stringify(state), { ttlMs });
  }

  /** True when the session was ended (access tokens derived from it must stop working). */
  async isRevoked(sessionId: string): Promise<boolean> {
    return (await this.store.get(revokedKey(sessionId))) !== null;
  }

  private async forget(sessions: { id: string; token_hash: string }[]): Promise<void> {
    await Promise.all(
      sessions.flatMap((s) => [
        this.store.delete(key(s.token_hash)),
        // Remembered for longer than any access token or refresh chain check needs.
        this.store.set(revokedKey(s.id), '1', { ttlMs: REVOKED_MEMORY_MS }),
      ]),
    );
    // After the store no longer has them: an instance reading again finds nothing.
    await Promise.all(sessions.map((s) => this.cache.invalidate(s.token_hash)));
  }

  /** Forgets sessions by token hash on every instance (erasure deletes their rows itself). */
  async evict(tokenHashes: string[]): Promise<void> {
    await Promise.all(tokenHashes.map((hash) => this.store.delete(key(hash))));
    await Promise.all(tokenHashes.map((hash) => this.cache.invalidate(hash)));
  }

  /** Stops listening for invalidations (the app closes it). */
  close(): Promise<void> {
    return this.cache.close();
  }
}
