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
import type { Store } from '../../platform/store/store.js';
import type { SecurityEventSink } from '../security-events/service.js';
import { findUserById } from '../users/repo.js';
import { generateApiKey, isWellFormedApiKey } from './key-format.js';
import { findApiKeyByHash, insertApiKey, listApiKeys, recordApiKeyUse, revokeApiKey, type ApiKeyRow } from './repo.js';

const USE_RECORD_INTERVAL_MS = 60_000;

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
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly store: Store,
    private readonly events?: SecurityEventSink,
  ) {}

  async create(userId: string, input: NewApiKey): Promise<{ key: string; row: ApiKeyRow }> {
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
    await insertApiKey(this.db, row);
    await this.events?.record({ type: 'api_key.created', userId, details: { keyId: row.id, name: row.name, scopes: row.scopes } });
    return { key, row: { ...row, last_used_at: null, last_used_ip: null, revoked_at: null } };
  }

  list(userId: string): Promise<ApiKeyRow[]> {
    return listApiKeys(this.db, userId);
  }

  async revoke(userId: string, id: string, by: 'owner' | 'monitor' = 'owner'): Promise<boolean> {
    const revoked = await revokeApiKey(this.db, userId, id, this.clock.now());
    // Access tokens minted from this key stop working too (they check this marker).
    if (revoked) await this.store.set(`revoked:api_key:${id}`, '1', { ttlMs: 2 * 60 * 60 * 1000 });
    if (revoked) await this.events?.record({ type: 'api_key.revoked', userId, details: { keyId: id, by } });
    return revoked;
  }

  /** The principal for a bearer API key, or an `unauthenticated` error with one fixed message. */
  async authenticate(key: string, ip: string): Promise<Principal> {
    const refused = () => new AppError('unauthenticated', 'Invalid, expired or revoked credentials.');
    if (!isWellFormedApiKey(key)) throw refused();
    const row = await findApiKeyByHash(this.db, hashToken(key));
    const now = this.clock.now();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at <= now) || !ipAllowed(row.allowed_cidrs, ip)) throw refused();
    const user = await findUserById(this.db, row.user_id);
    if (!user || user.password_reset_required) throw refused();
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > USE_RECORD_INTERVAL_MS || row.last_used_ip !== ip) {
      await recordApiKeyUse(this.db, row.id, ip, now);
    }
    if (row.last_used_ip && row.last_used_ip !== ip) {
      // Once per key and address per minute: a key bouncing between two hosts is not a flood of rows.
      await this.events?.recordSampled({ type: 'api_key.new_ip', userId: row.user_id, apiKeyId: row.id, ip, details: { keyId: row.id, previousIp: row.last_used_ip } }, `${row.id}:${ip}`);
    }
    return { kind: 'api_key', userId: row.user_id, scopes: new Set(row.scopes), apiKeyId: row.id, allowedCidrs: row.allowed_cidrs };
  }
}
