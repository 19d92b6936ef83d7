-- Audit log for compliance (modules/audit): append-only, hash-chained entries, signed
-- checkpoints, and the key that signs them. No foreign keys: entries outlive the users,
-- workspaces and resources they describe (a cascade would also trip the triggers below).

create table audit_entries (
  seq bigint primary key,                -- 1, 2, 3… without gaps, assigned under the chain lock
  at timestamptz not null,
  actor_type text not null check (actor_type in ('user', 'api_key', 'system')),
  actor_key_id text,                     -- the API key that acted, when one did
  action text not null,                  -- e.g. 'workspace.member.removed'
  target_type text,
  target_id text,
  workspace_id uuid,
  request_id text,
  details jsonb not null,                -- what changed, never secrets
  personal_digest text not null,         -- SHA-256 of personal_salt and the personal fields below
  prev_hash text not null unique,        -- unique: two entries can never follow the same one (no fork)
  hash text not null unique,             -- SHA-256 of the canonical entry, prev_hash and personal_digest included
  -- Personal fields: in the chain only through personal_digest, so erasure and retention can
  -- replace them by a pseudonym (dropping the salt) while the chain keeps verifying.
  actor_id text,                         -- the user who acted (null: system)
  actor_ip text,
  subject_id text,                       -- the person the action was about (a removed member, an erased account)
  personal_salt text,                    -- null once pseudonymised
  pseudonymised_at timestamptz
);
create index audit_entries_actor on audit_entries (actor_id) where actor_id is not null;
create index audit_entries_subject on audit_entries (subject_id) where subject_id is not null;
create index audit_entries_at on audit_entries (at);

-- Every AUDIT_CHECKPOINT_EVERY entries or AUDIT_CHECKPOINT_MINUTES: the head of the chain,
-- signed with the audit key, so cutting entries off the end is detectable.
create table audit_checkpoints (
  seq bigint primary key,
  hash text not null,
  at timestamptz not null,
  key_id text not null,
  signature text not null                -- HMAC-SHA256 (base64url) by audit_keys[key_id]
);

create table audit_keys (
  id text primary key,
  secret bytea not null,                 -- envelope-encrypted (instance key), bound to audit_keys.secret.<id>
  created_at timestamptz not null
);

-- Append-only whatever the database role (the app role should also hold only INSERT and
-- SELECT here: docs/security-model.md). The one exception is pseudonymisation of an
-- entry's personal fields, allowed inside a transaction that set
-- bastion.audit_pseudonymise = 'on' (set_config(…, true), so it ends with the transaction),
-- and only when every hashed column stays the same, the salt is dropped and each personal
-- field is kept, cleared, or replaced by a 'pseudonym:' value.
create function audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the audit log is append-only: % on % refused', tg_op, tg_table_name using errcode = '42501';
end $$;

create function audit_entries_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE'
     and current_setting('bastion.audit_pseudonymise', true) = 'on'
     and (new.seq, new.at, new.actor_type, new.actor_key_id, new.action, new.target_type, new.target_id,
          new.workspace_id, new.request_id, new.details, new.personal_digest, new.prev_hash, new.hash)
         is not distinct from
         (old.seq, old.at, old.actor_type, old.actor_key_id, old.action, old.target_type, old.target_id,
          old.workspace_id, old.request_id, old.details, old.personal_digest, old.prev_hash, old.hash)
     and new.personal_salt is null and new.pseudonymised_at is not null
     and (new.actor_id is not distinct from old.actor_id or new.actor_id is null or new.actor_id like 'pseudonym:%')
     and (new.subject_id is not distinct from old.subject_id or new.subject_id is null or new.subject_id like 'pseudonym:%')
     and (new.actor_ip is not distinct from old.actor_ip or new.actor_ip is null) then
    return new;
  end if;
  raise exception 'the audit log is append-only: % on % refused', tg_op, tg_table_name using errcode = '42501';
end $$;

create trigger audit_entries_append_only before update or delete on audit_entries
  for each row execute function audit_entries_guard();
create trigger audit_entries_no_truncate before truncate on audit_entries
  for each statement execute function audit_append_only();
create trigger audit_checkpoints_append_only before update or delete on audit_checkpoints
  for each row execute function audit_append_only();
create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
  for each statement execute function audit_append_only();
create trigger audit_keys_append_only before update or delete on audit_keys
  for each row execute function audit_append_only();
create trigger audit_keys_no_truncate before truncate on audit_keys
  for each statement execute function audit_append_only();
