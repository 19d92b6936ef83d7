-- Finding one's conversations by the words in their titles and messages, without storing
-- those words in clear (modules/chat/search-index.ts, docs/security-model.md). Each row says
-- "this word occurs `hits` times in this message (or title)", where the word is a keyed
-- blind index: the first 8 bytes of HMAC-SHA-256 of its stemmed form, under a key derived
-- from the workspace's data key. Equal words give equal terms within one workspace only.
create table conversation_search_terms (
  workspace_id uuid not null,
  user_id uuid not null,
  conversation_id uuid not null references conversations (id) on delete cascade,
  message_id uuid references messages (id) on delete cascade, -- null: the conversation's title
  term bigint not null,
  hits smallint not null check (hits > 0)
);
-- A search reads the postings of the few terms asked for, for one person.
create index conversation_search_lookup on conversation_search_terms (workspace_id, user_id, term);
create index conversation_search_message on conversation_search_terms (message_id);
create index conversation_search_conversation on conversation_search_terms (conversation_id);

-- What the indexer still has to (re)index: every row written before this migration, every new
-- or changed message and title. A change of content or title clears the mark.
alter table messages add column search_indexed_at timestamptz;
alter table conversations add column title_indexed_at timestamptz;
create index messages_search_backlog on messages (created_at) where search_indexed_at is null;
create index conversations_title_backlog on conversations (created_at) where title_indexed_at is null and title is not null;
