/** Table types of knowledge: bases, documents, their originals, chunks and embeddings. */
import type { Generated } from 'kysely';
import type { DocumentKind, DocumentSource, DocumentStatus } from '../../../domain/knowledge.js';

export interface KnowledgeBasesTable {
  id: string;
  workspace_id: string;
  name: string;
  description: Generated<string>;
  version: Generated<string>; // bigint comes back as a string
  embedding_connection_id: Generated<string | null>;
  embedding_model: Generated<string | null>;
  /** Optional reranking of search results (migration 0030); null: none. */
  rerank_connection_id: Generated<string | null>;
  rerank_model: Generated<string | null>;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  /** Set on a conversation's hidden base of attachments (migration 0025); null on workspace bases. */
  conversation_id: Generated<string | null>;
}

/** Exists only where pgvector is available (migration 0013); `embedding` is pgvector's text form. */
export interface ChunkEmbeddingsTable {
  chunk_id: string;
  knowledge_base_id: string;
  workspace_id: string;
  model: string;
  embedding: string;
}

export interface DocumentsTable {
  id: string;
  knowledge_base_id: string;
  workspace_id: string;
  filename: string;
  source: DocumentSource;
  source_url: string | null;
  declared_type: string | null;
  kind: DocumentKind;
  size_bytes: string; // bigint
  content_hash: string;
  status: DocumentStatus;
  error_code: string | null;
  error_message: string | null;
  attempts: Generated<number>;
  title: string | null;
  chunk_count: Generated<number>;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface DocumentBlobsTable {
  document_id: string;
  data: Buffer;
}

export interface ChunksTable {
  id: string;
  document_id: string;
  knowledge_base_id: string;
  workspace_id: string;
  position: number;
  heading: string | null;
  text: string;
  start_char: number;
  end_char: number;
}

/** Per base: how many chunks contain each word, and (lexeme '') the chunk count and total length; kept by triggers (migration 0028). */
export interface KnowledgeTermStatsTable {
  knowledge_base_id: string;
  lexeme: string;
  chunks: number;
  words: string; // bigint
}
