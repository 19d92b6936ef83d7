-- Workspaces own every agent, connection and conversation. Each user gets a personal
-- workspace; shared ones have members with one of four roles (see
-- modules/workspaces/permissions.ts for what each role may do).
create table workspaces (
  id uuid primary key,
  name text not null,
  personal_owner_id uuid unique references users (id) on delete cascade, -- set on personal workspaces only
  monthly_token_budget bigint,                                            -- null: unlimited
  created_at timestamptz not null,
  updated_at timestamptz not null
);

create table workspace_members (
  workspace_id uuid not null references workspaces (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  created_at timestamptz not null,
  primary key (workspace_id, user_id)
);
create index workspace_members_user_id on workspace_members (user_id);

-- Invitations: a random token mailed to the invitee, only its SHA-256 stored; single use, expiring.
create table workspace_invitations (
  id uuid primary key,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  email text not null,
  role text not null check (role in ('admin', 'member', 'viewer')),
  token_hash text not null unique,
  invited_by uuid references users (id) on delete set null,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  revoked_at timestamptz
);
create index workspace_invitations_workspace on workspace_invitations (workspace_id, created_at desc);

-- Token usage per workspace and calendar month (UTC), for budgets and reporting.
create table workspace_usage (
  workspace_id uuid not null references workspaces (id) on delete cascade,
  period date not null,
  input_tokens bigint not null default 0,
  output_tokens bigint not null default 0,
  primary key (workspace_id, period)
);
