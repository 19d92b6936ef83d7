/** Shapes of the share API (aliases of the OpenAPI document's types) and the mapping to the chat's message view. */
import type { ApiResponse } from '$lib/api/types';
import type { ChatMessage } from './types';

export type ShareStatus = ApiResponse<'/api/v1/conversations/{id}/share'>;
export type ShareLink = NonNullable<ShareStatus['share']>;
export type SharedConversation = ApiResponse<'/api/v1/shared/{shareId}'>;
export type SharedMessage = SharedConversation['messages'][number];

/** A shared message as MessageItem shows it: read-only, so the id is only a list key. */
export function asChatMessage(message: SharedMessage, index: number): ChatMessage {
  return {
    id: String(index),
    role: message.role,
    text: message.text,
    status: message.status,
    stopReason: null,
    citations: message.citations.map((c) => ({ id: c.marker, source: c.source, text: c.text, score: c.score })),
    toolCalls: [],
    agentVersion: null,
    model: null,
    usage: { inputTokens: 0, outputTokens: 0 },
    createdAt: message.createdAt,
  };
}
