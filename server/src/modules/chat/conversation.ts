/** A conversation as the chat services hand it out: its row opened (title decrypted), never the row itself. */
import type { ConversationRow } from './repo.js';
import type { MessageSealing } from './sealing.js';

export interface Conversation {
  id: string;
  agentId: string;
  agentVersion: number;
  source: ConversationRow['source'];
  title: string | null;
  pinned: boolean;
  archived: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Opens a conversation row: its title decrypted, the organising columns as flags. */
export async function openConversation(sealing: MessageSealing, row: ConversationRow): Promise<Conversation> {
  return {
    id: row.id,
    agentId: row.agent_id,
    agentVersion: row.agent_version,
    source: row.source,
    title: row.title ? await sealing.openTitle(row.id, row.title) : null,
    pinned: row.pinned_at !== null,
    archived: row.archived_at !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
