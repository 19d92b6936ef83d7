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
