-- Organising conversations: pinned and archived ones, and deletion with undo. A deleted
-- conversation is only marked (deleted_at): lists and reads leave it out at once, its owner
-- can restore it for a short window (modules/chat/organise.ts), and every API process
-- purges the ones past that window while it runs (modules/chat/purge.ts). Privacy export,
-- erasure and retention select by user or age, so they still cover a deleted row until then.
alter table conversations add column pinned_at timestamptz;
alter table conversations add column archived_at timestamptz;
alter table conversations add column deleted_at timestamptz;
-- The purge's lookup: only the few rows waiting to go are in it.
create index conversations_deleted on conversations (deleted_at) where deleted_at is not null;
