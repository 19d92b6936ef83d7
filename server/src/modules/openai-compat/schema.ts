/**
 * The OpenAI-compatible wire format (https://platform.openai.com/docs/api-reference/chat):
 * one zod schema per shape validates requests, types the handlers and documents the
 * operations. Requests are not strict, unlike Bastion's own API: OpenAI clients send
 * parameters this API ignores (documented in docs/api.md), and new ones appear all the time;
 * the parameters that would change the answer's meaning are refused by messages.ts.
 */
import { z } from 'zod';
import { Citation } from '../chat/views.js';

/** Messages per request; a conversation's prompt keeps at most the newest 40 (chat/prompt.ts). */
export const MAX_MESSAGES = 256;
/** Characters per message: the same bound as a chat message. */
export const MAX_CONTENT_CHARS = 32_000;

const ContentPart = z.object({
  type: z.string().max(50).describe('Only `text` parts are accepted'),
  text: z.string().max(MAX_CONTENT_CHARS).optional(),
});

const Message = z.object({
  role: z.string().max(50).describe('system, developer, user or assistant; tool and function messages are refused'),
  content: z
    .union([z.string().max(MAX_CONTENT_CHARS), z.array(ContentPart).max(100)], { error: 'content must be a string or an array of text parts' })
    .nullish()
    .describe('Text, or an array of `{"type":"text","text":…}` parts'),
  name: z.string().max(200).optional().describe('Ignored'),
  tool_calls: z.array(z.unknown()).max(100).optional().describe('Refused: the agent runs its own tools'),
});

export const ChatCompletionBody = z
  .object({
    model: z.string().min(1).max(200).describe('The agent id, as listed by GET /v1/models'),
    messages: z.array(Message).min(1).max(MAX_MESSAGES).describe('The conversation so far, oldest first, ending with the user’s message'),
    stream: z.boolean().nullish().describe('true: Server-Sent Events of `chat.completion.chunk`s, then `data: [DONE]`'),
    stream_options: z.object({ include_usage: z.boolean().nullish().describe('A last chunk with `usage` and no choices') }).nullish(),
    max_tokens: z.number().int().min(1).nullish().describe('Lowers the agent’s output cap per model turn; never raises it'),
    max_completion_tokens: z.number().int().min(1).nullish().describe('As max_tokens'),
    n: z.number().int().nullish().describe('Must be 1'),
    tools: z.array(z.unknown()).nullish().describe('Refused when not empty: the agent runs its own tools'),
    functions: z.array(z.unknown()).nullish().describe('Refused when not empty, as tools'),
    logprobs: z.boolean().nullish().describe('Refused when true'),
    response_format: z
      .object({ type: z.string().max(50) })
      .nullish()
      .describe('Only `text`'),
  })
  .meta({
    description:
      'Any other OpenAI parameter (temperature, top_p, stop, seed, presence_penalty, frequency_penalty, logit_bias, user, metadata, store, tool_choice, parallel_tool_calls, reasoning_effort, …) is accepted and ignored: the agent’s configuration decides.',
    examples: [{ model: '0f8fad5b-d9cb-469f-a165-70867728950e', messages: [{ role: 'user', content: 'What is our refund policy?' }], stream: false }],
  });
export type ChatCompletionBody = z.infer<typeof ChatCompletionBody>;

const Usage = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });

export const FINISH_REASONS = ['stop', 'length'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/** Bastion's additions to a completion (and to a stream's last choice chunk); OpenAI clients pass them through. */
export const BastionExtension = z
  .object({
    agentVersion: z.number().int().describe('The agent version that answered'),
    status: z.enum(['complete', 'incomplete']).describe('incomplete: cut short, see stopReason'),
    stopReason: z.string().nullable().describe('max_steps, max_tokens, max_output_tokens, max_wall_time, budget_exhausted, cancelled, disconnected'),
    citations: z.array(Citation).describe('The passages of the agent’s knowledge cited as [n] in the text'),
    toolCalls: z.array(z.object({ name: z.string(), ok: z.boolean() })).describe('The agent’s own tools it ran'),
  })
  .describe('Bastion extension');
export type BastionExtension = z.infer<typeof BastionExtension>;

export const ChatCompletion = z.object({
  id: z.string().describe('chatcmpl-…'),
  object: z.literal('chat.completion'),
  created: z.number().int().describe('Unix seconds'),
  model: z.string().describe('The agent id'),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null() }),
      logprobs: z.null(),
      finish_reason: z.enum(FINISH_REASONS).describe('length: cut short by a limit (bastion.stopReason says which)'),
    }),
  ),
  usage: Usage.describe('Tokens of every model turn of the answer, tool rounds included'),
  bastion: BastionExtension,
});
export type ChatCompletion = z.infer<typeof ChatCompletion>;

export const ModelView = z.object({
  id: z.string().describe('The agent id: pass it as `model`'),
  object: z.literal('model'),
  created: z.number().int().describe('When the agent was created (Unix seconds)'),
  owned_by: z.string().describe('The name of the agent’s workspace'),
  name: z.string().describe('The agent’s name (an extension some clients show)'),
  bastion: z.object({ workspaceId: z.uuid(), description: z.string(), version: z.number().int() }).describe('Bastion extension'),
});
export type ModelView = z.infer<typeof ModelView>;

export const ModelList = z.object({ object: z.literal('list'), data: z.array(ModelView) });
