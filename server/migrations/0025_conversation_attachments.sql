-- Files attached to a question: each conversation may get one hidden knowledge base, made on
-- its first attachment, whose documents go through the same intake and ingestion as any
-- other (modules/chat/attachments.ts). It belongs to the conversation: deleting the
-- conversation (purge, erasure, retention) deletes the base, its documents, originals and
-- chunks by cascade. Workspace lists, agent configurations and the knowledge routes leave
-- such bases out (conversation_id is not null).
alter table knowledge_bases add column conversation_id uuid references conversations (id) on delete cascade;
-- At most one per conversation: concurrent first attachments meet on this index.
create unique index knowledge_bases_conversation on knowledge_bases (conversation_id) where conversation_id is not null;
