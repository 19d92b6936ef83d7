/** What leaves the API of conversations: one schema per shape (validation, types, OpenAPI) and the mapper that fills it. */
import { z } from 'zod';
import { MESSAGE_ROLES } from '../../domain/chat.js';
import type { Conversation } from './conversation.js';
import type { Message } from './service.js';

export const Citation = z.object({
  id: z.string().describe('The [n] marker in the text'),
  source: z.string(),
  text: z.string(),
  score: z.number(),
  origin: z
    .object({ documentId: z.string(), knowledgeBaseId: z.string(), filename: z.string(), heading: z.string().nullable(), chunk: z.number().int().describe('1-based position of the chunk in the document') })
    .optional()
    .describe('The knowledge-base chunk cited; absent on answers stored before it was recorded'),
});
export const MessageView = z.object({
  id: z.uuid(),
  role: z.enum(MESSAGE_ROLES),
  text: z.string(),
  status: z.enum(['complete', 'streaming', 'incomplete', 'failed']).describe('incomplete: cut short (see stopReason) but kept'),
  stopReason: z.string().nullable().describe('cancelled, disconnected, max_steps, max_tokens, max_wall_time, budget_exhausted or a provider error code'),
  citations: z.array(Citation),
  toolCalls: z.array(z.object({ name: z.string(), arguments: z.string(), ok: z.boolean() })),
  agentVersion: z.number().int().nullable(),
  model: z.string().nullable(),
  usage: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() }),
  createdAt: z.string(),
});
export const ConversationView = z.object({
  id: z.uuid(),
  agentId: z.uuid(),
  agentVersion: z.number().int().describe('Agent version of the latest answer'),
  source: z.enum(['chat', 'run', 'webhook']),
  title: z.string().nullable(),
  pinned: z.boolean().describe('Shown in the Pinned group of the list'),
  archived: z.boolean().describe('Out of the main list; listed with archived=true'),
  createdAt: z.string(),
  updatedAt: z.string().describe('The last activity (a message); renaming, pinning and archiving do not move it'),
});

export function messageView(message: Message): z.infer<typeof MessageView> {
  return {
    id: message.id,
    role: message.role,
    text: message.text,
    status: message.status,
    stopReason: message.stopReason,
    citations: message.citations,
    toolCalls: message.toolCalls,
    agentVersion: message.agentVersion,
    model: message.model,
    usage: { inputTokens: message.inputTokens, outputTokens: message.outputTokens },
    createdAt: message.createdAt.toISOString(),
  };
}

export function conversationView(c: Conversation): z.infer<typeof ConversationView> {
  return {
    id: c.id,
    agentId: c.agentId,
    agentVersion: c.agentVersion,
    source: c.source,
    title: c.title,
    pinned: c.pinned,
    archived: c.archived,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}
