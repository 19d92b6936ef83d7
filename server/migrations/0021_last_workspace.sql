-- The workspace a person last chose in the web app (PUT /me/workspace), so the next sign-in,
-- on any device, opens it. Only a preference: every request still names its workspace and
-- is checked; a workspace deleted since is forgotten.
alter table users add column last_workspace_id uuid references workspaces (id) on delete set null;
