-- Accounts and authentication: users, durable session records, single-use tokens,
-- recovery codes, sign-in history, the mail outbox and security events.

create table users (
  id uuid primary key,
  email text not null unique,            -- normalised: NFKC, trimmed, lower-cased
  name text not null,
  role text not null default 'member' check (role in ('admin', 'member')),
  password_hash text not null,
  password_changed_at timestamptz not null default now(),
  email_verified_at timestamptz,
  totp_secret bytea,                     -- envelope-encrypted (user data key), bound to users.totp_secret.<id>
  totp_enabled_at timestamptz,
  totp_last_step bigint,                 -- last accepted TOTP time step: a code cannot be replayed
  password_reset_required boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- The live session state is in the store; this is the durable record for listing and audit.
create table sessions (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  token_hash text not null unique,
  ip text not null,
  user_agent text not null,
  created_at timestamptz not null,
  last_seen_at timestamptz not null,
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text
);
create index sessions_user_id on sessions (user_id) where revoked_at is null;

create table auth_tokens (
  id uuid primary key,
  user_id uuid references users (id) on delete cascade,
  kind text not null check (kind in ('verify_email', 'password_reset', 'mfa_login', 'not_me', 'invite')),
  token_hash text not null unique,
  email text,                            -- invitations name an address before a user exists
  created_at timestamptz not null,
  expires_at timestamptz not null,
  used_at timestamptz
);
create index auth_tokens_user_kind on auth_tokens (user_id, kind) where used_at is null;

create table recovery_codes (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  code_hash text not null,
  used_at timestamptz
);
create index recovery_codes_user_id on recovery_codes (user_id);

create table sign_ins (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  at timestamptz not null,
  ip text not null,
  network text not null,                 -- IPv4 /24 or IPv6 /48 prefix
  device text not null,                  -- hash of the user agent
  hour smallint not null,                -- UTC hour of day
  score smallint not null,
  reasons text[] not null default '{}'
);
create index sign_ins_user_at on sign_ins (user_id, at desc);
create index sign_ins_ip_at on sign_ins (ip, at desc);

create table mail_outbox (
  id uuid primary key,
  to_address text not null,
  subject text not null,
  text_body bytea not null,             -- envelope-encrypted (instance key): mails carry single-use links
  html_body bytea not null,
  created_at timestamptz not null,
  sent_at timestamptz
);

create table security_events (
  id uuid primary key,
  type text not null,
  user_id uuid,
  ip text,
  details jsonb not null default '{}',
  created_at timestamptz not null
);
create index security_events_created_at on security_events (created_at desc);
create index security_events_user_id on security_events (user_id, created_at desc);
