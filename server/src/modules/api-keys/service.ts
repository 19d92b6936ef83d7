/**
 * Personal API keys: shown once, stored as SHA-256, scoped, optionally expiring and
 * limited to IP ranges; `Authorization: Bearer bst_key_…` authenticates as the owner
 * with the key's scopes only.
 */
import { randomUUID } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../../errors.js';
import type { Principal, Scope } from '../../principal.js';
import type { Clock } from '../../platform/clock.js';
import { hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { CacheStats } from '../../platform/store/cache.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import type { Store } from '../../platform/store/store.js';
import type { Actor } from '../audit/actor.js';
import type { AuditEvent, AuditLog } from '../audit/service.js';
import type { SecurityEventSink } from '../security-events/service.js';
import { isDisabled } from '../users/disabled.js';
import { generateApiKey, isWellFormedApiKey } from './key-format.js';
import { findApiKeyStatus, findApiKeyWithUserByHash, insertApiKey, listApiKeys, recordApiKeyUse, revokeApiKey, revokeUserApiKeys, type ApiKeyRow, type ApiKeyWithUser } from './repo.js';
import { originOfActor, type EventOrigin } from '../security-events/origin.js';

const USE_RECORD_INTERVAL_MS = 60_000;
// Access tokens minted from a revoked key check this marker; it outlives every one of them.
const REVOKED_MARKER_TTL_MS = 2 * 60 * 60 * 1000;
const revokedMarker = (id: string) => `revoked:api_key:${id}`;
/**
 * How long an instance reuses a key it read from the database. Revoking a key (and so
 * disabling its user, or the user's "this wasn't me", which revoke every key) drops it on
 * every instance first (LocalCache broadcasts), so this bounds only how stale the last-use
 * time may be, never how long a revoked key works.
 */
export const API_KEY_CACHE_TTL_MS = 5_000;
const API_KEY_CACHE_ENTRIES = 10_000;

/** A key that can still be used: what credentials derived from it must carry. */
export interface LiveApiKey {
  allowedCidrs: string[];
}

export interface NewApiKey {
  name: string;
  scopes: Scope[];
  expiresAt?: Date | undefined;
  allowedCidrs?: string[] | undefined;
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', bits] = cidr.split('/');
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** True when `ip` lies in one of `cidrs` (an empty list allows every address); tokens derived from a key check the same way. */
export function ipAllowed(cidrs: readonly string[], ip: string): boolean {
  if (cidrs.length === 0) return true;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const version = isIP(plain);
  return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
}

export class ApiKeyService {
  /** Keys by hash, as authenticate last read them; a request with a cached key costs no query. */
  private readonly cache: LocalCache<ApiKeyWithUser>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly store: Store,
    private readonly events?: SecurityEventSink,
    /** Records keys made and revoked by people; tests that only need a key may leave it out. */
    private readonly audit?: AuditLog,
    cacheStats?: CacheStats,
  ) {
    this.cache = new LocalCache(store, 'api_key', { ttlMs: API_KEY_CACHE_TTL_MS, maxEntries: API_KEY_CACHE_ENTRIES, stats: cacheStats, now: () => clock.now().getTime() });
  }

  /** Stops listening for other instances' invalidations. */
  close(): Promise<void> {
    return this.cache.close();
  }

  /** A new key for `userId`; `by` (who asked) is recorded in the audit log, omitted when the system issues the key itself. */
  async create(userId: string, input: NewApiKey, by?: Actor): Promise<{ key: string; row: ApiKeyRow }> {
    const now = this.clock.now();
    if (input.expiresAt && input.expiresAt <= now) throw new AppError('validation_failed', 'expiresAt must be in the future.', [{ path: 'body.expiresAt', message: 'in the past' }]);
    for (const cidr of input.allowedCidrs ?? []) {
      if (!parseCidr(cidr)) throw new AppError('validation_failed', `"${cidr.slice(0, 50)}" is not an IP range like 203.0.113.0/24.`, [{ path: 'body.allowedCidrs', message: 'invalid CIDR' }]);
    }
    const { key, hash, hint } = generateApiKey();
    const row = {
      id: randomUUID(),
      user_id: userId,
      name: input.name,
      key_hash: hash,
      hint,
      scopes: [...new Set(input.scopes)],
      allowed_cidrs: input.allowedCidrs ?? [],
      expires_at: input.expiresAt ?? null,
      created_at: now,
    };
    await this.transaction(async (trx) => {
      await insertApiKey(trx, row);
      await this.record(trx, by, { action: 'api_key.created', target: { type: 'api_key', id: row.id }, details: { scopes: row.scopes, expiresAt: row.expires_at } });
    });
    await this.events?.record({ ...(by ? originOfActor(by) : {}), type: 'api_key.created', userId, details: { keyId: row.id, name: row.name, scopes: row.scopes } });
    return { key, row: { ...row, last_used_at: null, last_used_ip: null, revoked_at: null } };
  }

  list(userId: string): Promise<ApiKeyRow[]> {
    return listApiKeys(this.db, userId);
  }

  /** Revokes the key by its owner (`actor`: recorded in the audit log) or by the monitor (not audited). */
  async revoke(userId: string, id: string, by: 'owner' | 'monitor' = 'owner', actor?: Actor): Promise<boolean> {
    const hash = await this.transaction(async (trx) => {
      const revoked = await revokeApiKey(trx, userId, id, this.clock.now());
      if (revoked) await this.record(trx, actor, { action: 'api_key.revoked', target: { type: 'api_key', id } });
      return revoked;
    });
    if (!hash) return false;
    // Refused on every instance before this answers; access tokens minted from the key check the marker.
    await Promise.all([this.cache.invalidate(hash), this.store.set(revokedMarker(id), '1', { ttlMs: REVOKED_MARKER_TTL_MS })]);
    await this.events?.record({ ...(actor ? originOfActor(actor) : {}), type: 'api_key.revoked', userId, details: { keyId: id, by } });
    return true;
  }

  /**
   * Revokes every key of a user (evidence of compromise) and, through the marker, the
   * access tokens minted from them.
   */
  async revokeAllFor(userId: string): Promise<void> {
    const keys = await revokeUserApiKeys(this.db, userId, this.clock.now());
    await Promise.all(keys.flatMap((k) => [this.cache.invalidate(k.key_hash), this.store.set(revokedMarker(k.id), '1', { ttlMs: REVOKED_MARKER_TTL_MS })]));
  }

  /** Drops these keys (by hash) from every instance's cache, for rows deleted behind the service (account erasure). */
  async evict(keyHashes: string[]): Promise<void> {
    await Promise.all(keyHashes.map((hash) => this.cache.invalidate(hash)));
  }

  /** The key's IP ranges while it is neither revoked nor expired; null otherwise (or when unknown). */
  async liveKey(id: string): Promise<LiveApiKey | null> {
    const key = await findApiKeyStatus(this.db, id);
    if (!key || key.revoked_at || (key.expires_at && key.expires_at <= this.clock.now())) return null;
    return { allowedCidrs: key.allowed_cidrs };
  }

  /** One transaction; through the audit log when there is one, so a checkpoint due after it is signed. */
  private transaction<T>(work: (trx: Db) => Promise<T>): Promise<T> {
    return this.audit ? this.audit.transaction(work) : this.db.transaction().execute(work);
  }

  /** Appends `by`'s audit entry to the change in `trx`; nothing when no one is named (the system acting). */
  private async record(trx: Db, by: Actor | undefined, event: AuditEvent): Promise<void> {
    if (!by) return;
    if (!this.audit) throw new Error('ApiKeyService needs an AuditLog to record changes');
    await this.audit.append(trx, by, event);
  }

  /** True when the key was revoked lately (a store read only: the access-token check runs on every request). */
  async isRevoked(id: string): Promise<boolean> {
    return (await this.store.get(revokedMarker(id))) !== null;
  }

  /** The principal for a bearer API key, or an `unauthenticated` error with one fixed message. */
  async authenticate(key: string, ip: string, origin: EventOrigin = {}): Promise<Principal> {
    const refused = () => new AppError('unauthenticated', 'Invalid, expired or revoked credentials.');
    if (!isWellFormedApiKey(key)) throw refused();
    const hash = hashToken(key);
    const row = await this.cache.getOrLoad(hash, async () => (await findApiKeyWithUserByHash(this.db, hash)) ?? null); // no row either when the user is gone
    const now = this.clock.now();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at <= now) || !ipAllowed(row.allowed_cidrs, ip)) throw refused();
    if (row.user_password_reset_required || isDisabled({ disabled_at: row.user_disabled_at })) throw refused();
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > USE_RECORD_INTERVAL_MS || row.last_used_ip !== ip) {
      await recordApiKeyUse(this.db, row.id, ip, now);
      this.cache.update(hash, { ...row, last_used_at: now, last_used_ip: ip });
    }
    if (row.last_used_ip && row.last_used_ip !== ip) {
      // Once per key and address per minute: a key bouncing between two hosts is not a flood of rows.
      await this.events?.recordSampled({ ...origin, type: 'api_key.new_ip', userId: row.user_id, apiKeyId: row.id, ip, details: { keyId: row.id, previousIp: row.last_used_ip } }, `${row.id}:${ip}`);
    }
    return { kind: 'api_key', userId: row.user_id, scopes: new Set(row.scopes), apiKeyId: row.id, allowedCidrs: row.allowed_cidrs };
  }
}
