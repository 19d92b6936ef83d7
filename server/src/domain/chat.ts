/** Chat: where a conversation came from, who wrote a message and how far an answer got. */

export const CONVERSATION_SOURCES = ['chat', 'run', 'webhook'] as const;
export type ConversationSource = (typeof CONVERSATION_SOURCES)[number];

export const MESSAGE_ROLES = ['user', 'assistant'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

/** `streaming` while an answer is written; `incomplete` when cut short but kept. */
export const MESSAGE_STATUSES = ['complete', 'streaming', 'incomplete', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
