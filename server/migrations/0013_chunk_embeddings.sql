-- Vector search beside full-text search. A knowledge base can name an embedding model
-- (a provider connection + model); its chunks' vectors live in chunk_embeddings, which
-- exists only where the pgvector extension is available (PGlite ships it; Debian's
-- PostgreSQL does not). Without it, retrieval is full-text only. To add vector search
-- to a database migrated without pgvector, install the extension and run this file's
-- `do` block by hand as a role allowed to create extensions.

alter table knowledge_bases
  add column embedding_connection_id uuid references provider_connections (id) on delete set null,
  add column embedding_model text;

do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'vector') then
    create extension if not exists vector;
    create table if not exists chunk_embeddings (
      chunk_id uuid primary key references chunks (id) on delete cascade,
      knowledge_base_id uuid not null references knowledge_bases (id) on delete cascade,
      workspace_id uuid not null references workspaces (id) on delete cascade,
      model text not null,                 -- vectors of different models never compare
      embedding vector not null
    );
    create index if not exists chunk_embeddings_base on chunk_embeddings (knowledge_base_id, model);
  end if;
exception when insufficient_privilege then
  raise notice 'pgvector is installed but this role may not create extensions: retrieval stays full-text only';
end $$;
