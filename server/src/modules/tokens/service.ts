/**
 * Access tokens (JWT, RFC 9068 `at+jwt`, EdDSA) and refresh tokens (opaque, hashed,
 * rotated on every use; reusing a spent one revokes its whole family — RFC 9700 §4.14).
 *
 * Verification pins the algorithm, requires iss/aud/exp/nbf/iat/jti/sub with a 30 s skew,
 * refuses unknown `kid`s and `crit` headers, and refuses tokens whose session, API key or
 * refresh family was revoked since they were issued. Tokens from an IP-restricted API key
 * carry its ranges (`cidr`) and are refused, like the key, from anywhere else.
 */
import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { SCOPES, type Principal } from '../../principal.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import { generateToken, hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { Store } from '../../platform/store/store.js';
import { ipAllowed, type ApiKeyService } from '../api-keys/service.js';
import { securityEvent, type AuthDeps } from '../auth/deps.js';
import type { SessionService } from '../sessions/service.js';
import { isDisabled } from '../users/disabled.js';
import type { UserService } from '../users/service.js';
import { claimRefreshToken, findRefreshFamily, findRefreshToken, insertRefreshToken, revokeRefreshFamily, revokeUserRefreshTokens } from './repo.js';
import { JWT_ALG, type SigningKeys } from './signing-keys.js';
import type { EventOrigin } from '../security-events/origin.js';

export const CLOCK_SKEW_SECONDS = 30;

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  refreshTtlMs: number;
}

/** The services that own the credentials a token is derived from: asked whether those are still live. */
export interface TokenOwners {
  sessions: Pick<SessionService, 'isActive' | 'isRevoked'>;
  apiKeys: Pick<ApiKeyService, 'liveKey' | 'isRevoked'>;
  users: Pick<UserService, 'byId'>;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

const invalid = () => new AppError('unauthenticated', 'Invalid, expired or revoked credentials.');
const familyMarker = (familyId: string) => `revoked:refresh_family:${familyId}`;
// A family marker outlives every access token of the family: one minted by a refresh racing the revocation included.
const FAMILY_MARKER_MARGIN_MS = 5 * 60_000;

interface Grant {
  userId: string;
  scopes: string[];
  sessionId: string | null;
  apiKeyId: string | null;
  allowedCidrs: readonly string[];
  familyId: string;
  expiresAt?: Date;
}

export class TokenService {
  constructor(
    private readonly db: Db,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly keys: SigningKeys,
    private readonly owners: TokenOwners,
    private readonly settings: TokenSettings,
    private readonly deps: Pick<AuthDeps, 'db' | 'clock' | 'logger' | 'securityEvents'>,
  ) {}

  /** Issues an access token and a new refresh token family for a principal. */
  async issue(principal: Principal): Promise<TokenPair> {
    const scopes = principal.scopes === 'all' ? [...SCOPES] : [...principal.scopes];
    return this.issuePair({
      userId: principal.userId,
      scopes,
      sessionId: principal.sessionId ?? null,
      apiKeyId: principal.apiKeyId ?? null,
      allowedCidrs: principal.allowedCidrs ?? [],
      familyId: randomUUID(),
    });
  }

  /** Exchanges a refresh token for a new pair; a reused token revokes its family. */
  async refresh(refreshToken: string, ip: string, origin: EventOrigin = {}): Promise<TokenPair> {
    if (refreshToken.length > 200) throw invalid();
    const now = this.clock.now();
    const row = await findRefreshToken(this.db, hashToken(refreshToken));
    if (!row || row.revoked_at || row.expires_at <= now) throw invalid();
    if (row.used_at) {
      await this.revokeFamily(row.family_id);
      await securityEvent(this.deps, { ...origin, type: 'auth.refresh_token_reused', userId: row.user_id, ip, details: { familyId: row.family_id } });
      throw invalid();
    }
    // A chain from an API key lives only with the key, and only within its IP ranges (read
    // from the key: the single source). Checked before the token is spent, so a stolen token
    // presented from elsewhere does not cut its holder off.
    let allowedCidrs: string[] = [];
    if (row.api_key_id) {
      const key = await this.owners.apiKeys.liveKey(row.api_key_id);
      if (!key || !ipAllowed(key.allowedCidrs, ip)) throw invalid();
      allowedCidrs = key.allowedCidrs;
    }
    // Spend the token in one conditional UPDATE, and only while no member of its family is
    // revoked: a pair minted by a refresh that raced a family revocation dies at its first use.
    if (!(await claimRefreshToken(this.db, row.id, row.family_id, now))) {
      await this.revokeFamily(row.family_id); // two concurrent uses: one of them is a thief
      throw invalid();
    }
    // A chain from a session ends with it: signed out, idle past the timeout, or past its absolute limit.
    if (row.session_id && !(await this.owners.sessions.isActive(row.user_id, row.session_id))) throw invalid();
    const user = await this.owners.users.byId(row.user_id);
    if (!user || user.password_reset_required || isDisabled(user)) throw invalid();
    // The family keeps the lifetime of its first token: refreshing does not extend it.
    return this.issuePair({
      userId: row.user_id,
      scopes: row.scopes,
      sessionId: row.session_id,
      apiKeyId: row.api_key_id,
      allowedCidrs,
      familyId: row.family_id,
      expiresAt: row.expires_at,
    });
  }

  /** Revokes the family of a refresh token (RFC 7009: unknown tokens are not an error). */
  async revoke(refreshToken: string): Promise<void> {
    const row = await findRefreshFamily(this.db, hashToken(refreshToken.slice(0, 200)));
    if (row) await this.revokeFamily(row.family_id);
  }

  /**
   * Revokes every refresh token of a user (evidence of compromise, a disabled account), and
   * the access tokens of their families with them.
   */
  async revokeAllFor(userId: string): Promise<void> {
    const families = await revokeUserRefreshTokens(this.db, userId, this.clock.now());
    // Access tokens of those families stop at once too (they check the family marker).
    await Promise.all(families.map((familyId) => this.markFamilyRevoked(familyId)));
  }

  /** Verifies a bearer access token presented from `ip` and returns its principal, or throws 401. */
  async verify(token: string, ip: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid ? await this.keys.publicKey(header.kid) : undefined;
          if (!key) throw new joseErrors.JWKSNoMatchingKey();
          return key;
        },
        {
          algorithms: [JWT_ALG],
          issuer: this.settings.issuer,
          audience: this.settings.audience,
          typ: 'at+jwt',
          clockTolerance: CLOCK_SKEW_SECONDS,
          requiredClaims: ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'],
          currentDate: this.clock.now(),
          maxTokenAge: this.settings.accessTtlSeconds + CLOCK_SKEW_SECONDS,
        },
      ));
    } catch {
      throw invalid();
    }
    const sessionId = typeof payload.sid === 'string' ? payload.sid : undefined;
    const apiKeyId = typeof payload.akid === 'string' ? payload.akid : undefined;
    const familyId = typeof payload.fid === 'string' ? payload.fid : undefined;
    const cidrs = payload.cidr;
    if (cidrs !== undefined && !(Array.isArray(cidrs) && cidrs.every((c) => typeof c === 'string'))) throw invalid();
    if (cidrs && !ipAllowed(cidrs, ip)) throw invalid();
    // Store GETs only (no database query on this path), sent together: one round trip.
    const revoked = await Promise.all([sessionId ? this.owners.sessions.isRevoked(sessionId) : false, apiKeyId ? this.owners.apiKeys.isRevoked(apiKeyId) : false, familyId ? this.isMarked(familyMarker(familyId)) : false]);
    if (revoked.some(Boolean)) throw invalid();
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    return {
      kind: 'jwt',
      userId: payload.sub!,
      scopes: new Set(scopes),
      ...(sessionId ? { sessionId } : {}),
      ...(apiKeyId ? { apiKeyId } : {}),
      ...(cidrs?.length ? { allowedCidrs: cidrs } : {}),
    };
  }

  private async issuePair(input: Grant): Promise<TokenPair> {
    const now = this.clock.now();
    const seconds = Math.floor(now.getTime() / 1000);
    const { kid, privateKey } = await this.keys.signingKey();
    const accessToken = await new SignJWT({
      scope: input.scopes.join(' '),
      ...(input.sessionId ? { sid: input.sessionId } : {}),
      ...(input.apiKeyId ? { akid: input.apiKeyId } : {}),
      ...(input.allowedCidrs.length > 0 ? { cidr: [...input.allowedCidrs] } : {}),
      fid: input.familyId,
    })
      .setProtectedHeader({ alg: JWT_ALG, kid, typ: 'at+jwt' })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(input.userId)
      .setIssuedAt(seconds)
      .setNotBefore(seconds)
      .setExpirationTime(seconds + this.settings.accessTtlSeconds)
      .setJti(randomUUID())
      .sign(privateKey);
    const { token: refreshToken, hash } = generateToken('rfsh');
    await insertRefreshToken(this.db, {
      id: randomUUID(),
      family_id: input.familyId,
      user_id: input.userId,
      token_hash: hash,
      scopes: input.scopes,
      session_id: input.sessionId,
      api_key_id: input.apiKeyId,
      created_at: now,
      expires_at: input.expiresAt ?? new Date(now.getTime() + this.settings.refreshTtlMs),
    });
    return { accessToken, refreshToken, expiresIn: this.settings.accessTtlSeconds, tokenType: 'Bearer' };
  }

  /** Revokes every token of a family, and (through the marker) the access tokens it issued. */
  private async revokeFamily(familyId: string): Promise<void> {
    await this.markFamilyRevoked(familyId);
    await revokeRefreshFamily(this.db, familyId, this.clock.now());
  }

  private async markFamilyRevoked(familyId: string): Promise<void> {
    const ttlMs = (this.settings.accessTtlSeconds + CLOCK_SKEW_SECONDS) * 1000 + FAMILY_MARKER_MARGIN_MS;
    await this.store.set(familyMarker(familyId), '1', { ttlMs });
  }

  private async isMarked(key: string): Promise<boolean> {
    return (await this.store.get(key)) !== null;
  }
}
