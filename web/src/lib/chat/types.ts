/** Shapes of the conversations API (server/src/modules/chat/routes.ts). */
export interface Citation {
  /** The [n] marker in the answer's text. */
  id: string;
  /** Document the passage comes from. */
  source: string;
  text: string;
  score: number;
}

export type MessageStatus = 'complete' | 'streaming' | 'incomplete' | 'failed';

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  status: MessageStatus;
  stopReason: string | null;
  citations: Citation[];
  toolCalls: { name: string; arguments: string; ok: boolean }[];
  agentVersion: number | null;
  model: string | null;
  usage: { inputTokens: number; outputTokens: number };
  createdAt: string;
}

export interface Conversation {
  id: string;
  agentId: string;
  agentVersion: number;
  source: 'chat' | 'run' | 'webhook';
  title: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Why an answer stopped, for people (stopReason values from the server). */
export function stopReasonText(message: ChatMessage): string {
  const reasons: Record<string, string> = {
    cancelled: 'stopped',
    disconnected: 'the connection was lost',
    max_steps: 'the agent reached its step limit',
    max_tokens: 'the agent reached its token limit',
    max_wall_time: 'the agent ran out of time',
    budget_exhausted: 'the workspace’s monthly budget is spent',
  };
  return message.stopReason ? (reasons[message.stopReason] ?? message.stopReason.replaceAll('_', ' ')) : 'cut short';
}
