/** Shapes of the conversations API: aliases of the OpenAPI document's types ($lib/api/types). */
import type { ApiResponse } from '$lib/api/types';

export type ChatMessage = ApiResponse<'/api/v1/conversations/{id}/messages'>['messages'][number];

/** A passage an answer cites; `id` is the [n] marker in the answer's text. */
export type Citation = ChatMessage['citations'][number];

export type MessageStatus = ChatMessage['status'];

export type Conversation = ApiResponse<'/api/v1/conversations/{id}'>;

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
