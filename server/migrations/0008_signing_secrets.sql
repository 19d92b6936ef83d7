-- Secrets for signed requests and webhooks, envelope-encrypted. During a rotation the
-- previous secret stays valid until expires_at (the overlap window).
create table signing_secrets (
  id uuid primary key,
  owner_type text not null,              -- e.g. 'agent_webhook'
  owner_id text not null,
  secret bytea not null,                 -- envelope-encrypted (instance key), bound to signing_secrets.secret.<id>
  hint text not null,
  created_at timestamptz not null,
  expires_at timestamptz                 -- null: current
);
create index signing_secrets_owner on signing_secrets (owner_type, owner_id);
