/** Table types of chat: conversations and their (encrypted) messages. */
import type { Generated } from 'kysely';
import type { ConversationSource, MessageRole, MessageStatus } from '../../../domain/chat.js';

export interface ConversationsTable {
  id: string;
  workspace_id: string;
  user_id: string;
  agent_id: string;
  agent_version: number;
  source: ConversationSource;
  title: Buffer | null;
  created_at: Date;
  updated_at: Date;
  /** Pinned to the top of the list since (0022). */
  pinned_at: Date | null;
  /** Archived (out of the main list) since (0022). */
  archived_at: Date | null;
  /** Deleted, restorable for a short window, purged after it (0022; modules/chat/purge.ts). */
  deleted_at: Date | null;
  /** When the title was last put in the search index; null: waiting for the indexer (0027; modules/chat/search-index.ts). */
  title_indexed_at: Generated<Date | null>;
  /** The title's blind terms and their counts (0027); null: not indexed. */
  title_terms: Generated<string[] | null>;
  title_hits: Generated<number[] | null>;
}

export interface MessagesTable {
  id: string;
  seq: Generated<string>;
  conversation_id: string;
  workspace_id: string;
  role: MessageRole;
  content: Buffer;
  status: MessageStatus;
  stop_reason: string | null;
  agent_version: number | null;
  model: string | null;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  superseded: Generated<boolean>;
  /** The API process writing a `streaming` answer (see modules/chat/leases.ts). */
  lease_owner: string | null;
  created_at: Date;
  updated_at: Date;
  /** When the content was last put in the search index; null: waiting for the indexer (0027). */
  search_indexed_at: Generated<Date | null>;
  /** The text's blind terms (first 8 bytes of HMAC-SHA-256 of each stemmed word, signed) and their counts (0027); null: not indexed. */
  search_terms: Generated<string[] | null>;
  search_hits: Generated<number[] | null>;
}

/** One word's weighted count in a whole conversation (title ×3): what a search ranks (0027). */
export interface ConversationSearchTotalsTable {
  workspace_id: string;
  user_id: string;
  conversation_id: string;
  term: string;
  tf: number;
}

/** A read-only link to one conversation for the members of its workspace (0023; modules/chat/share.ts). */
export interface ConversationSharesTable {
  /** 128 random bits, base64url: the link. */
  id: string;
  conversation_id: string;
  workspace_id: string;
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
}
