/** Table types of programmatic access: API keys, JWT signing keys, refresh tokens and request-signing secrets. */
import type { Generated } from 'kysely';

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  key_hash: string;
  hint: string;
  scopes: string[];
  allowed_cidrs: Generated<string[]>;
  expires_at: Date | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

export interface JwtKeysTable {
  kid: string;
  private_key: Buffer;
  public_jwk: unknown;
  created_at: Date;
  retired_at: Date | null;
}

export interface RefreshTokensTable {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  scopes: string[];
  session_id: string | null;
  api_key_id: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

export interface SigningSecretsTable {
  id: string;
  owner_type: string;
  owner_id: string;
  secret: Buffer;
  hint: string;
  created_at: Date;
  expires_at: Date | null;
}
