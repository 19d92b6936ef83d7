-- Personal API keys: only a SHA-256 of the key is stored; the key is shown once.
create table api_keys (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  name text not null,
  key_hash text not null unique,
  hint text not null,                    -- bst_key_…abcd, safe to show
  scopes text[] not null,
  allowed_cidrs text[] not null default '{}',
  expires_at timestamptz,
  last_used_at timestamptz,
  last_used_ip text,
  created_at timestamptz not null,
  revoked_at timestamptz
);
create index api_keys_user_id on api_keys (user_id) where revoked_at is null;
