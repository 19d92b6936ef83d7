-- Per-member usage of a workspace this month (modules/chat/member-usage.ts): the answers of
-- one workspace in a date range. No index led from the workspace to its messages (they are
-- reached through their conversation), so the figures would scan every message.
create index messages_workspace_answers on messages (workspace_id, created_at) where role = 'assistant';
