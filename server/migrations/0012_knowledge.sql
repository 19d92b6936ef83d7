-- Knowledge bases, their documents (originals envelope-encrypted in document_blobs), and
-- the chunks retrieval searches with PostgreSQL full-text search.

create table knowledge_bases (
  id uuid primary key,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  name text not null,
  description text not null default '',
  version bigint not null default 1,     -- bumped on every change: part of retrieval cache keys
  created_by uuid references users (id) on delete set null,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index knowledge_bases_workspace on knowledge_bases (workspace_id, created_at);

create table documents (
  id uuid primary key,
  knowledge_base_id uuid not null references knowledge_bases (id) on delete cascade,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  filename text not null,                -- normalised; shown, never used as a path
  source text not null check (source in ('upload', 'url')),
  source_url text,
  declared_type text,
  kind text not null check (kind in ('txt', 'md', 'html', 'pdf', 'docx', 'csv', 'json')),
  size_bytes bigint not null,
  content_hash text not null,            -- SHA-256 of the original, for duplicates
  status text not null check (status in ('pending', 'scanning', 'processing', 'ready', 'failed', 'quarantined')),
  error_code text,
  error_message text,
  attempts integer not null default 0,
  title text,
  chunk_count integer not null default 0,
  created_by uuid references users (id) on delete set null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  unique (knowledge_base_id, content_hash)
);
create index documents_base on documents (knowledge_base_id, created_at desc);
create index documents_unfinished on documents (status) where status in ('pending', 'scanning', 'processing');
create index documents_workspace_size on documents (workspace_id);

create table document_blobs (
  document_id uuid primary key references documents (id) on delete cascade,
  data bytea not null                    -- envelope-encrypted original (workspace key)
);

create table chunks (
  id uuid primary key,
  document_id uuid not null references documents (id) on delete cascade,
  knowledge_base_id uuid not null references knowledge_bases (id) on delete cascade,
  workspace_id uuid not null references workspaces (id) on delete cascade,
  position integer not null,
  heading text,
  text text not null,
  start_char integer not null,
  end_char integer not null,
  tsv tsvector generated always as (to_tsvector('english', coalesce(heading, '') || ' ' || text)) stored
);
create index chunks_tsv on chunks using gin (tsv);
create index chunks_document on chunks (document_id, position);
create index chunks_base on chunks (knowledge_base_id);
