-- Privacy: erasure requests (GDPR Art. 17), data exports (Art. 15/20), published policy
-- versions with their acceptances, and consents for optional purposes (Art. 7).

-- An erasure request: the account is erased by the privacy job once erasure_scheduled_at
-- has passed, unless cancelled before. Both columns are null when nothing is pending.
alter table users add column erasure_requested_at timestamptz;
alter table users add column erasure_scheduled_at timestamptz;
create index users_erasure_due on users (erasure_scheduled_at) where erasure_scheduled_at is not null;

-- Export archives: a ZIP envelope-encrypted under the user's data key, downloadable once
-- with a random token (only its SHA-256 stored) until expires_at.
create table data_exports (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  status text not null check (status in ('pending', 'ready', 'downloaded', 'expired', 'failed')),
  token_hash text unique,
  archive bytea,                         -- envelope-encrypted (user key), bound to data_exports.archive.<id>; null once gone
  size_bytes bigint,
  created_at timestamptz not null,
  completed_at timestamptz,
  expires_at timestamptz,
  downloaded_at timestamptz
);
create index data_exports_user on data_exports (user_id, created_at desc);
create index data_exports_created_at on data_exports (created_at);

-- Privacy policy and terms: each published text is a new version, identified by its SHA-256.
create table policy_versions (
  kind text not null check (kind in ('privacy', 'terms')),
  version integer not null,
  sha256 text not null,
  text text not null,
  published_at timestamptz not null,
  primary key (kind, version),
  unique (kind, sha256)
);

-- Who accepted which version, and when (Art. 7(1): consent must be provable).
create table policy_acceptances (
  user_id uuid not null references users (id) on delete cascade,
  kind text not null check (kind in ('privacy', 'terms')),
  version integer not null,
  sha256 text not null,
  accepted_at timestamptz not null,
  primary key (user_id, kind, version)
);

-- Consents for optional purposes: every grant and withdrawal is a row (history kept);
-- the latest row per purpose is the current state.
create table consent_records (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  purpose text not null check (purpose in ('product_analytics', 'improve_prompts')),
  granted boolean not null,
  policy_version integer,               -- the privacy policy version in force when given or withdrawn
  recorded_at timestamptz not null
);
create index consent_records_user on consent_records (user_id, purpose, recorded_at desc);

-- Agent versions stay immutable, except that their author may be forgotten: erasing an
-- account sets created_by to null (on delete set null) on versions in workspaces that
-- outlive it. Nothing else about a version can change.
create or replace function agent_versions_immutable() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' and new.created_by is null
     and (new.agent_id, new.version, new.config, new.created_at) is not distinct from (old.agent_id, old.version, old.config, old.created_at) then
    return new;
  end if;
  raise exception 'agent versions are immutable';
end $$;
