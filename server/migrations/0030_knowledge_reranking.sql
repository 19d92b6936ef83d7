-- Optional reranking per knowledge base (modules/knowledge/reranking.ts): a provider
-- connection and model that rescore a search's best candidates. Null: no reranking.
-- Deleting the connection turns reranking off, as it does vector search (0013).
alter table knowledge_bases
  add column rerank_connection_id uuid references provider_connections (id) on delete set null,
  add column rerank_model text;
