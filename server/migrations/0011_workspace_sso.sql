-- Single sign-on configured per workspace: the workspace's own OpenID Connect provider.
-- The client secret is envelope-encrypted under the workspace's data key.
create table workspace_sso (
  workspace_id uuid primary key references workspaces (id) on delete cascade,
  issuer text not null,
  client_id text not null,
  client_secret bytea not null,          -- bound to workspace_sso.client_secret.<workspace_id>
  client_secret_hint text not null,
  jit_provisioning boolean not null default false,
  default_role text not null default 'member' check (default_role in ('member', 'viewer')),
  created_at timestamptz not null,
  updated_at timestamptz not null
);
