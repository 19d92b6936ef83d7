/**
 * Sessions: opaque 256-bit tokens (`bst_sess_…`), only their SHA-256 stored. The live
 * state sits in the store under the token hash (shared by every API copy) with idle and
 * absolute expiry checked against the injected clock; the database keeps the record
 * for listing and audit. ASVS 7.2.3 (≥128-bit), 7.3.1/7.3.2 (timeouts), 7.4.1 (server-side logout).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { generateToken, hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { CacheStats } from '../../platform/store/cache.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import type { Store } from '../../platform/store/store.js';
import type { SessionState } from '../../principal.js';
import { findUserSession, insertSession, listActiveSessions, revokeSessions, touchSession, type SessionRow } from './repo.js';

export interface RequestContext {
  ip: string;
  userAgent: string;
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

export class SessionService {
  /** Live sessions read recently, by token hash: most requests need no store round trip. */
  private readonly cache: LocalCache<SessionState>;

  constructor(
    private readonly db: Db,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly timeouts: SessionTimeouts,
    stats?: CacheStats,
  ) {
    this.cache = new LocalCache(store, 'session', { ttlMs: SESSION_CACHE_TTL_MS, maxEntries: SESSION_CACHE_ENTRIES, stats, now: () => clock.now().getTime() });
  }

  /** Starts a session; the returned token goes in the cookie and nowhere else. */
  async create(userId: string, context: RequestContext): Promise<{ token: string; state: SessionState }> {
    const { token, hash } = generateToken('sess');
    const now = this.clock.now().getTime();
    const state: SessionState = {
      id: randomUUID(),
      userId,
      csrfToken: randomBytes(32).toString('base64url'),
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
      return raw ? (JSON.parse(raw) as SessionState) : null;
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
    if (!raw) return false; // idle expiry lets the store drop it; logout deletes it
    const state = JSON.parse(raw) as SessionState;
    return state.id === sessionId && !this.isExpired(state, this.clock.now().getTime());
  }

  list(userId: string): Promise<SessionRow[]> {
    return listActiveSessions(this.db, userId, this.clock.now());
  }

  /** Ends one session of a user; false when it is not theirs or already ended. */
  async revoke(userId: string, sessionId: string, reason: string): Promise<boolean> {
    const revoked = await revokeSessions(this.db, userId, { onlyId: sessionId }, reason, this.clock.now());
    await this.forget(revoked);
    return revoked.length > 0;
  }

  /** Ends every session of a user, optionally keeping one (the caller's). */
  async revokeAll(userId: string, reason: string, exceptId?: string): Promise<number> {
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
