-- Finding one's conversations by the words in their titles and messages, without storing
-- those words in clear (modules/chat/search-index.ts, docs/security-model.md). A word is
-- stored as a keyed blind index: the first 8 bytes of HMAC-SHA-256 of its stemmed form,
-- under a key derived from the workspace's data key, so equal words give equal terms within
-- one workspace only.

-- Each message's and title's distinct words and how often each occurs there (two arrays of
-- the same length; null: not indexed). Which message of a found conversation to show, and
-- what the indexer takes back from the totals when a message changes.
alter table messages add column search_terms bigint[], add column search_hits smallint[];
alter table conversations add column title_terms bigint[], add column title_hits smallint[];

-- "This word occurs this much in this conversation" (a title occurrence counts 3): what a
-- search ranks, so it reads at most one row per conversation and word, however long the
-- conversations. Kept equal to the sums of the arrays above by the indexer, in the same transaction.
create table conversation_search_totals (
  workspace_id uuid not null,
  user_id uuid not null,
  conversation_id uuid not null references conversations (id) on delete cascade,
  term bigint not null,
  tf integer not null,
  primary key (conversation_id, term)
);
create index conversation_search_totals_lookup on conversation_search_totals (workspace_id, user_id, term);

-- What the indexer still has to (re)index: every row written before this migration, every new
-- or changed message and title. A change of content or title clears the mark.
alter table messages add column search_indexed_at timestamptz;
alter table conversations add column title_indexed_at timestamptz;
create index messages_search_backlog on messages (created_at) where search_indexed_at is null;
create index conversations_title_backlog on conversations (created_at) where title_indexed_at is null and title is not null;
