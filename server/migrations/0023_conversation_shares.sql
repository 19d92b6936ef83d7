-- Read-only links to one conversation for the members of its workspace (modules/chat/share.ts).
-- The id is random (128 bits, base64url) and is the link; reading still needs a current
-- membership of the workspace, so the id alone opens nothing. A revoked share is kept (revoked_at)
-- for the record; the conversation's, workspace's or author's deletion takes its shares with it.
create table conversation_shares (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{22}$'),
  conversation_id uuid not null references conversations (id) on delete cascade,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  created_by uuid not null references users (id) on delete cascade,
  created_at timestamptz not null,
  revoked_at timestamptz
);
-- One active share per conversation: creating again answers the existing one (insert … on conflict).
create unique index conversation_shares_active on conversation_shares (conversation_id) where revoked_at is null;
create index conversation_shares_author on conversation_shares (created_by);
