-- JWT signing keys (private keys envelope-encrypted) and opaque refresh tokens (hashed).
create table jwt_keys (
  kid text primary key,
  private_key bytea not null,            -- envelope-encrypted JWK, bound to jwt_keys.private_key.<kid>
  public_jwk jsonb not null,
  created_at timestamptz not null,
  retired_at timestamptz                 -- stops signing; stays in the JWKS until its last token expired
);

create table refresh_tokens (
  id uuid primary key,
  family_id uuid not null,
  user_id uuid not null references users (id) on delete cascade,
  token_hash text not null unique,
  scopes text[] not null,
  session_id uuid,
  api_key_id uuid,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz
);
create index refresh_tokens_family on refresh_tokens (family_id);
