-- Data keys for envelope encryption: one per owner (the instance, a workspace, a user),
-- stored only wrapped (encrypted) by a master key that lives outside the database.
-- Deleting a row crypto-shreds everything encrypted under it.
create table data_keys (
  id uuid primary key,
  scope text not null check (scope in ('instance', 'workspace', 'user')),
  owner_id text not null default '',
  master_key_id text not null,
  wrapped_key bytea not null,
  created_at timestamptz not null default now(),
  rewrapped_at timestamptz,
  unique (scope, owner_id)
);

create index data_keys_master_key_id on data_keys (master_key_id);
