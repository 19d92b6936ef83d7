/**
 * What leaves the OpenAI-compatible API: agents as models, answers as completions and as
 * stream chunks. Each mapper names the fields that leave; Bastion's additions go under
 * `bastion`, which OpenAI clients pass through untouched.
 */
import { AppError, ERROR_CODES, type ErrorCode } from '../../errors.js';
import type { LoopResult } from '../chat/agent-loop.js';
import type { Completion } from '../chat/completion.js';
import type { AgentModel } from './service.js';
import type { BastionExtension, ChatCompletion, FinishReason, ModelView } from './schema.js';

/** Which completion a response or chunk belongs to: one id and time for all chunks of a stream. */
export interface CompletionMeta {
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model as the caller named it (the agent id). */
  model: string;
}

export function modelView(model: AgentModel): ModelView {
  return {
    id: model.agentId,
    object: 'model',
    created: Math.floor(model.createdAt.getTime() / 1000),
    owned_by: model.workspaceName,
    name: model.name,
    bastion: { workspaceId: model.workspaceId, description: model.description, version: model.version },
  };
}

/** Stop reasons of an answer cut short by one of its limits: OpenAI's `length`. */
const LIMITS = new Set(['max_tokens', 'max_output_tokens', 'max_steps', 'max_wall_time', 'budget_exhausted']);

export function finishReason(result: LoopResult): FinishReason {
  return result.status === 'incomplete' && result.stopReason !== null && LIMITS.has(result.stopReason) ? 'length' : 'stop';
}

/**
 * The error an answer ended with, when it failed: no text at all, or a provider (or internal)
 * failure part-way — an answer cut off by a broken provider is not presented as finished. A
 * budget spent part-way is a limit (`length`), like the others.
 */
export function failureOf(result: LoopResult): AppError | null {
  const error = result.error;
  if (!error) return result.status === 'failed' ? new AppError('internal_error', 'The answer failed; try again.') : null;
  if (result.status !== 'failed' && error.code === 'budget_exhausted') return null;
  const code: ErrorCode = (ERROR_CODES as string[]).includes(error.code) ? (error.code as ErrorCode) : 'internal_error';
  return new AppError(code, error.message);
}

function extension(outcome: Completion): BastionExtension {
  const { result } = outcome;
  return {
    agentVersion: outcome.agent.version,
    status: result.status === 'complete' ? 'complete' : 'incomplete',
    stopReason: result.stopReason,
    citations: result.citations.map((c) => ({ id: c.id, source: c.source, text: c.text, score: c.score, ...(c.origin ? { origin: c.origin } : {}) })),
    toolCalls: result.toolCalls.map((call) => ({ name: call.name, ok: call.ok })),
  };
}

function usage(result: LoopResult): ChatCompletion['usage'] {
  return { prompt_tokens: result.inputTokens, completion_tokens: result.outputTokens, total_tokens: result.inputTokens + result.outputTokens };
}

export function completionView(meta: CompletionMeta, outcome: Completion): ChatCompletion {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: { role: 'assistant', content: outcome.result.text, refusal: null }, logprobs: null, finish_reason: finishReason(outcome.result) }],
    usage: usage(outcome.result),
    bastion: extension(outcome),
  };
}

type Delta = { role: 'assistant'; content: string } | { content: string } | Record<string, never>;

/** One `chat.completion.chunk` as an SSE frame; `usage` is null on every chunk but the last when it was asked for. */
function chunk(meta: CompletionMeta, choices: object[], includeUsage: boolean, extra: object = {}): string {
  const value = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices, ...(includeUsage ? { usage: null } : {}), ...extra };
  return `data: ${JSON.stringify(value)}\n\n`;
}

export function deltaFrame(meta: CompletionMeta, delta: Delta, includeUsage: boolean): string {
  return chunk(meta, [{ index: 0, delta, logprobs: null, finish_reason: null }], includeUsage);
}

/** The last choice chunk: an empty delta with the finish reason, and Bastion's extension. */
export function finishFrame(meta: CompletionMeta, outcome: Completion, includeUsage: boolean): string {
  return chunk(meta, [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason(outcome.result) }], includeUsage, { bastion: extension(outcome) });
}

/** `stream_options.include_usage`: a chunk with no choices and the whole answer's usage. */
export function usageFrame(meta: CompletionMeta, outcome: Completion): string {
  return chunk(meta, [], false, { usage: usage(outcome.result) });
}

export const DONE_FRAME = 'data: [DONE]\n\n';
