-- LLM provider connections, agents with immutable versions, conversations and messages.

create table provider_connections (
  id uuid primary key,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  name text not null,
  kind text not null check (kind in ('openai', 'anthropic')),
  base_url text not null,
  default_model text,
  credentials bytea,                     -- envelope-encrypted (workspace key), bound to provider_connections.credentials.<id>
  credential_hint text,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index provider_connections_workspace on provider_connections (workspace_id, created_at);

create table agents (
  id uuid primary key,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  current_version integer not null,
  created_by uuid references users (id) on delete set null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  deleted_at timestamptz                 -- soft delete: conversations keep their history
);
create index agents_workspace on agents (workspace_id, updated_at desc) where deleted_at is null;

create table agent_versions (
  agent_id uuid not null references agents (id) on delete cascade,
  version integer not null,
  config jsonb not null,
  created_by uuid references users (id) on delete set null,
  created_at timestamptz not null,
  primary key (agent_id, version)
);

-- Versions are immutable: a change is a new row.
create function agent_versions_immutable() returns trigger language plpgsql as $$
begin
  raise exception 'agent versions are immutable';
end $$;
create trigger agent_versions_no_update before update on agent_versions
  for each row execute function agent_versions_immutable();

create table conversations (
  id uuid primary key,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  agent_id uuid not null references agents (id) on delete cascade,
  agent_version integer not null,
  source text not null default 'chat' check (source in ('chat', 'run', 'webhook')),
  title bytea,                           -- envelope-encrypted (workspace key)
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index conversations_list on conversations (workspace_id, user_id, updated_at desc);
create index conversations_agent on conversations (agent_id);

create table messages (
  id uuid primary key,
  seq bigint generated always as identity, -- order within a conversation (timestamps can tie)
  conversation_id uuid not null references conversations (id) on delete cascade,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  role text not null check (role in ('user', 'assistant')),
  content bytea not null,                -- envelope-encrypted JSON {text, citations, toolCalls}
  status text not null check (status in ('complete', 'streaming', 'incomplete', 'failed')),
  stop_reason text,                      -- e.g. cancelled, disconnected, max_steps, provider_unavailable
  agent_version integer,
  model text,
  input_tokens integer not null default 0,
  output_tokens integer not null default 0,
  superseded boolean not null default false, -- replaced by a regenerated answer; kept, not shown
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index messages_conversation on messages (conversation_id, seq);
