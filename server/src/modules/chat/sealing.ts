/**
 * Message sealing: message content (text, citations, tool calls) and conversation titles are
 * envelope-encrypted under the workspace's key, each bound to its table, column and row so a
 * sealed value copied to another row does not open.
 */
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Passage } from '../../platform/llm/types.js';
import type { ToolTrace } from './agent-loop.js';

/** What a message row holds, once opened. */
export interface StoredContent {
  text: string;
  citations: Passage[];
  toolCalls: ToolTrace[];
}

const contentBinding = (id: string) => ({ table: 'messages', column: 'content', rowId: id });
const titleBinding = (id: string) => ({ table: 'conversations', column: 'title', rowId: id });

export class MessageSealing {
  constructor(private readonly encryptor: Encryptor) {}

  /** Seals the content of message `messageId` under the workspace's key. */
  sealContent(workspaceId: string, messageId: string, content: StoredContent): Promise<Buffer> {
    return this.encryptor.encrypt({ scope: 'workspace', id: workspaceId }, contentBinding(messageId), JSON.stringify(content));
  }

  /** Opens a message row's content. */
  async openContent(row: { id: string; content: Buffer }): Promise<StoredContent> {
    return JSON.parse(await this.encryptor.decryptText(contentBinding(row.id), row.content)) as StoredContent;
  }

  /** Seals the title of conversation `conversationId` under the workspace's key. */
  sealTitle(workspaceId: string, conversationId: string, title: string): Promise<Buffer> {
    return this.encryptor.encrypt({ scope: 'workspace', id: workspaceId }, titleBinding(conversationId), title);
  }

  /** Opens a conversation row's title. */
  openTitle(conversationId: string, sealed: Buffer): Promise<string> {
    return this.encryptor.decryptText(titleBinding(conversationId), sealed);
  }
}
