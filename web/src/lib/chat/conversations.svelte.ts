/**
 * The conversation list of the chat sidebar and the agents to talk to, shared by the
 * chat screens and reloaded when the workspace changes.
 */
import { api, errorMessage } from '$lib/api';
import type { ApiResponse } from '$lib/api/types';
import type { Conversation } from './types';

export type AgentSummary = ApiResponse<'/api/v1/agents'>['agents'][number];

class ChatDirectory {
  conversations = $state<Conversation[]>([]);
  agents = $state<AgentSummary[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);

  async load(): Promise<void> {
    this.error = null;
    try {
      const [{ conversations }, { agents }] = await Promise.all([api.get<{ conversations: Conversation[] }>('/conversations?limit=100'), api.get<{ agents: AgentSummary[] }>('/agents')]);
      this.conversations = conversations;
      this.agents = agents;
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.loaded = true;
    }
  }

  agentName(id: string | undefined): string {
    return this.agents.find((a) => a.id === id)?.config.name ?? 'Deleted agent';
  }

  /** Puts the conversation first (new, or just answered). */
  upsert(conversation: Conversation): void {
    this.conversations = [conversation, ...this.conversations.filter((c) => c.id !== conversation.id)];
  }

  remove(id: string): void {
    this.conversations = this.conversations.filter((c) => c.id !== id);
  }
}

export const chatDirectory = new ChatDirectory();

/** The first message typed on /chat, handed to the new conversation's page to send. */
let pendingFirst: { conversationId: string; content: string } | null = null;

export function setPendingMessage(conversationId: string, content: string): void {
  pendingFirst = { conversationId, content };
}

export function takePendingMessage(conversationId: string): string | null {
  if (pendingFirst?.conversationId !== conversationId) return null;
  const { content } = pendingFirst;
  pendingFirst = null;
  return content;
}
