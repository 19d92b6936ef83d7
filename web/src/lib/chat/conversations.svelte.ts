/**
 * The conversation list of the chat sidebar and the agents to talk to, shared by the
 * chat screens and reloaded when the workspace changes; organising a conversation
 * (rename, pin, archive, delete with undo) goes through here so the list follows.
 */
import { api, errorMessage } from '$lib/api';
import type { ApiBody, ApiResponse } from '$lib/api/types';
import type { Conversation } from './types';

export type AgentSummary = ApiResponse<'/api/v1/agents'>['agents'][number];
export type ConversationChanges = ApiBody<'/api/v1/conversations/{id}', 'patch'>;
type Deleted = ApiResponse<'/api/v1/conversations/{id}', 'delete'>;

/** How long the Undo of a deletion is offered (the server keeps it restorable for longer). */
export const UNDO_MS = 10_000;

class ChatDirectory {
  /** The conversations of the main list (not archived): pinned and recent. */
  conversations = $state<Conversation[]>([]);
  /** The archived ones, loaded when the Archived view is first opened. */
  archived = $state<Conversation[] | null>(null);
  agents = $state<AgentSummary[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);
  /** The last deletion, while its Undo is offered. */
  deleted = $state<{ conversation: Conversation; until: number } | null>(null);
  private undoTimer: ReturnType<typeof setTimeout> | undefined;

  async load(): Promise<void> {
    this.error = null;
    this.archived = null;
    try {
      // Pinned ones on their own: however old, they are always in the list.
      const [pinned, recent, { agents }] = await Promise.all([
        api.get<{ conversations: Conversation[] }>('/conversations?pinned=true&limit=100'),
        api.get<{ conversations: Conversation[] }>('/conversations?pinned=false&limit=100'),
        api.get<{ agents: AgentSummary[] }>('/agents'),
      ]);
      this.conversations = [...pinned.conversations, ...recent.conversations];
      this.agents = agents;
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.loaded = true;
    }
  }

  async loadArchived(): Promise<void> {
    this.error = null;
    try {
      this.archived = (await api.get<{ conversations: Conversation[] }>('/conversations?archived=true&limit=100')).conversations;
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Renames, pins or archives; the lists follow the answer. */
  async organise(id: string, changes: ConversationChanges): Promise<Conversation> {
    const conversation = await api.patch<Conversation>(`/conversations/${id}`, changes);
    this.place(conversation);
    return conversation;
  }

  /** Deletes it and offers Undo for UNDO_MS. */
  async delete(conversation: Conversation): Promise<void> {
    await api.delete<Deleted>(`/conversations/${conversation.id}`);
    this.remove(conversation.id);
    clearTimeout(this.undoTimer);
    this.deleted = { conversation, until: Date.now() + UNDO_MS };
    this.undoTimer = setTimeout(() => (this.deleted = null), UNDO_MS);
  }

  /** Takes the last deletion back; the conversation returns to its list. */
  async undoDelete(): Promise<Conversation | null> {
    const pending = this.deleted;
    if (!pending) return null;
    const conversation = await api.post<Conversation>(`/conversations/${pending.conversation.id}/restore`);
    clearTimeout(this.undoTimer);
    this.deleted = null;
    this.place(conversation);
    return conversation;
  }

  dismissUndo(): void {
    clearTimeout(this.undoTimer);
    this.deleted = null;
  }

  /** Puts the conversation in the list it now belongs to, in place of its old copy. */
  private place(conversation: Conversation): void {
    this.remove(conversation.id);
    if (conversation.archived) {
      if (this.archived) this.archived = [conversation, ...this.archived];
    } else {
      this.conversations = [conversation, ...this.conversations];
    }
  }

  agentName(id: string | undefined): string {
    return this.agents.find((a) => a.id === id)?.config.name ?? 'Deleted agent';
  }

  /** Puts the conversation in its list (new, or just answered). */
  upsert(conversation: Conversation): void {
    this.place(conversation);
  }

  remove(id: string): void {
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.archived) this.archived = this.archived.filter((c) => c.id !== id);
  }
}

export const chatDirectory = new ChatDirectory();

/** The first message typed on /chat, with the files staged beside it, handed to the new conversation's page to send. */
export interface PendingMessage {
  content: string;
  /** Attached on arrival; the question waits until they can be cited. */
  files: File[];
}

let pendingFirst: (PendingMessage & { conversationId: string }) | null = null;

export function setPendingMessage(conversationId: string, content: string, files: File[] = []): void {
  pendingFirst = { conversationId, content, files };
}

export function takePendingMessage(conversationId: string): PendingMessage | null {
  if (pendingFirst?.conversationId !== conversationId) return null;
  const { content, files } = pendingFirst;
  pendingFirst = null;
  return { content, files };
}
