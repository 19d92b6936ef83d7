/**
 * JWT signing keys: Ed25519 (EdDSA), each with a `kid`, private keys envelope-encrypted.
 * The newest unretired key signs; a retired key stays in the JWKS until every token it
 * signed has expired. `bastion keys rotate-jwt` rotates.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';

export const JWT_ALG = 'EdDSA';
type VerifyKey = Awaited<ReturnType<typeof importJWK>>;
const binding = (kid: string) => ({ table: 'jwt_keys', column: 'private_key', rowId: kid });

export interface SigningKey {
  kid: string;
  privateKey: VerifyKey;
  publicKey: VerifyKey;
  publicJwk: JWK;
}

export class SigningKeys {
  private active: Promise<SigningKey> | undefined;
  private activeLoadedAt = 0;
  private publicKeys = new Map<string, { key: VerifyKey; jwk: JWK }>();
  private loadedAt = 0;

  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly clock: Clock,
    private readonly tokenTtlMs: number,
  ) {}

  /** The key that signs new tokens (created on first use). */
  signingKey(): Promise<SigningKey> {
    // Re-read the active key every minute: a rotation by another process takes effect here too.
    const now = this.clock.now().getTime();
    if (now - this.activeLoadedAt > 60_000) {
      this.active = undefined;
      this.activeLoadedAt = now;
    }
    this.active ??= this.loadActive().catch((error: unknown) => {
      this.active = undefined;
      throw error;
    });
    return this.active;
  }

  /** Adds a new signing key and retires the others (they keep verifying until their tokens expire). */
  async rotate(): Promise<string> {
    const now = this.clock.now();
    await this.db.updateTable('jwt_keys').set({ retired_at: now }).where('retired_at', 'is', null).execute();
    const kid = await this.create();
    this.active = undefined;
    this.loadedAt = 0;
    return kid;
  }

  /** A public key by kid, for verification; unknown kids are refreshed from the database at most every 5 s. */
  async publicKey(kid: string): Promise<VerifyKey | undefined> {
    const active = this.active ? await this.active.catch(() => undefined) : undefined;
    if (active?.kid === kid) return active.publicKey; // the key this process signs with
    if (!this.publicKeys.has(kid) && this.clock.now().getTime() - this.loadedAt > 5_000) await this.loadPublicKeys();
    return this.publicKeys.get(kid)?.key;
  }

  /** The JSON Web Key Set: current and recently retired public keys. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const active = await this.signingKey();
    await this.loadPublicKeys();
    const keys = [...this.publicKeys.values()].map((k) => k.jwk);
    if (!this.publicKeys.has(active.kid)) keys.unshift(active.publicJwk);
    return { keys };
  }

  private async loadActive(): Promise<SigningKey> {
    const newest = () => this.db.selectFrom('jwt_keys').select(['kid', 'private_key', 'public_jwk']).where('retired_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirst();
    let row = await newest();
    if (!row) {
      await this.create();
      row = (await newest())!;
    }
    const jwk = JSON.parse(await this.encryptor.decryptText(binding(row.kid), Buffer.from(row.private_key))) as JWK;
    const publicJwk = (typeof row.public_jwk === 'string' ? JSON.parse(row.public_jwk) : row.public_jwk) as JWK;
    return { kid: row.kid, privateKey: await importJWK(jwk, JWT_ALG), publicKey: await importJWK(publicJwk, JWT_ALG), publicJwk };
  }

  private async create(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(JWT_ALG, { crv: 'Ed25519', extractable: true });
    const kid = `${this.clock.now().toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: JWT_ALG, use: 'sig' };
    const sealed = await this.encryptor.encrypt({ scope: 'instance' }, binding(kid), JSON.stringify(await exportJWK(privateKey)));
    await this.db
      .insertInto('jwt_keys')
      .values({ kid, private_key: sealed, public_jwk: JSON.stringify(publicJwk), created_at: this.clock.now() })
      .execute();
    return kid;
  }

  private async loadPublicKeys(): Promise<void> {
    const now = this.clock.now();
    // Keep a retired key while tokens it signed may live (lifetime plus clock skew).
    const cutoff = new Date(now.getTime() - this.tokenTtlMs - 60_000);
    const rows = await this.db
      .selectFrom('jwt_keys')
      .select(['kid', 'public_jwk'])
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', cutoff)]))
      .execute();
    // Build the new map, then swap: verifiers never see a half-loaded key set.
    const next = new Map<string, { key: VerifyKey; jwk: JWK }>();
    for (const row of rows) {
      const jwk = (typeof row.public_jwk === 'string' ? JSON.parse(row.public_jwk) : row.public_jwk) as JWK;
      next.set(row.kid, { key: await importJWK(jwk, JWT_ALG), jwk });
    }
    this.publicKeys = next;
    this.loadedAt = now.getTime();
  }
}
