/**
 * The Anthropic Messages API, streamed.
 *
 * System messages become the `system` parameter; assistant tool calls become `tool_use`
 * blocks and tool results `tool_result` blocks in a user turn (consecutive turns of one
 * role are merged, as the API requires alternation). Tool calls are emitted at their
 * `content_block_stop`; usage and `done` at `message_stop`. A stream that ends before
 * `message_stop` throws provider_unavailable after the deltas already received.
 */
import { DEFAULT_FIRST_BYTE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, Exchange, isJsonResponse, isObject, joinUrl, listModels, parseChunk, safeMessage, throwIfAborted, type FetchLike } from './http.js';
import { ProviderError, type ChatEvent, type ChatRequest, type FinishReason, type LlmProvider, type ProviderErrorCode } from './types.js';

export const ANTHROPIC_VERSION = '2023-06-01';
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 1024;

export interface AnthropicProviderOptions {
  /** e.g. https://api.anthropic.com */
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  /** Extra headers, e.g. `anthropic-beta`. */
  headers?: Record<string, string>;
  /** Longest wait for the response headers (connecting and retries included). Default 60 s. */
  firstByteTimeoutMs?: number;
  /** Longest gap between two chunks of the response body. Default 30 s. */
  idleTimeoutMs?: number;
}

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** The request body sent to `/v1/messages` (exported for tests and debugging). */
export function anthropicRequestBody(request: ChatRequest): Record<string, unknown> {
  const system: string[] = [];
  const turns: Turn[] = [];
  const push = (role: Turn['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  const text = (content: string): Block[] => (content.trim() === '' ? [] : [{ type: 'text', text: content }]);

  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
        if (message.content.trim() !== '') system.push(message.content);
        break;
      case 'user':
        push('user', text(message.content));
        break;
      case 'assistant':
        push('assistant', [...text(message.content), ...(message.toolCalls ?? []).map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: toolInput(call.arguments) }))]);
        break;
      case 'tool': {
        // Tool results open the user turn that answers the tool calls.
        const block = { type: 'tool_result', tool_use_id: message.toolCallId, content: message.content };
        const last = turns.at(-1);
        if (last && last.role === 'user') {
          const firstOther = last.content.findIndex((b) => b.type !== 'tool_result');
          if (firstOther === -1) last.content.push(block);
          else last.content.splice(firstOther, 0, block);
        } else {
          turns.push({ role: 'user', content: [block] });
        }
        break;
      }
    }
  }

  const body: Record<string, unknown> = {
    model: request.model,
    max_tokens: request.maxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS,
  };
  if (system.length > 0) body.system = system.join('\n\n');
  body.messages = turns.map((turn) => ({
    role: turn.role,
    content: turn.content.length === 1 && turn.content[0]!.type === 'text' ? turn.content[0]!.text : turn.content,
  }));
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({ name: tool.name, description: tool.description, input_schema: tool.parameters }));
  }
  // Anthropic accepts 0..1 (OpenAI 0..2): clamp rather than fail the turn.
  if (request.temperature !== undefined) body.temperature = Math.min(1, Math.max(0, request.temperature));
  body.stream = true;
  return body;
}

/** `tool_use.input` must be an object; arguments the model garbled become `{}`. */
function toolInput(args: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(args === '' ? '{}' : args);
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}

function mapStopReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'max_tokens':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'error';
    default:
      return 'stop'; // end_turn, stop_sequence, pause_turn
  }
}

const ERROR_TYPES: Record<string, ProviderErrorCode> = {
  authentication_error: 'provider_auth_failed',
  permission_error: 'provider_auth_failed',
  rate_limit_error: 'provider_rate_limited',
  invalid_request_error: 'provider_bad_request',
  not_found_error: 'provider_bad_request',
  request_too_large: 'provider_bad_request',
  timeout_error: 'provider_timeout',
  overloaded_error: 'provider_unavailable',
  api_error: 'provider_unavailable',
};

function streamError(payload: Record<string, unknown>): ProviderError {
  const error = isObject(payload.error) ? payload.error : {};
  const type = typeof error.type === 'string' ? error.type : 'api_error';
  const message = typeof error.message === 'string' ? safeMessage(error.message) : type;
  return new ProviderError(ERROR_TYPES[type] ?? 'provider_unavailable', `The provider reported an error mid-stream: ${message}`);
}

const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Input tokens including prompt-cache reads and writes. */
function inputTokens(usage: Record<string, unknown>): number {
  return count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + count(usage.cache_read_input_tokens);
}

interface ToolBlock {
  id: string;
  name: string;
  json: string;
  initial: unknown;
}

export class AnthropicProvider implements LlmProvider {
  readonly kind = 'anthropic' as const;
  private readonly firstByteTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: AnthropicProviderOptions) {
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept, 'anthropic-version': ANTHROPIC_VERSION };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    return { ...headers, ...this.options.headers };
  }

  private exchange(signal: AbortSignal | undefined): Exchange {
    return new Exchange({ fetch: this.options.fetch, firstByteTimeoutMs: this.firstByteTimeoutMs, idleTimeoutMs: this.idleTimeoutMs, signal, secrets: [this.options.apiKey] });
  }

  async *stream(request: ChatRequest): AsyncGenerator<ChatEvent, void, undefined> {
    throwIfAborted(request.signal);
    const exchange = this.exchange(request.signal);
    try {
      const res = await exchange.send(joinUrl(this.options.baseUrl, '/v1/messages'), {
        method: 'POST',
        headers: { ...this.headers('text/event-stream'), 'content-type': 'application/json' },
        body: JSON.stringify(anthropicRequestBody(request)),
      });
      if (isJsonResponse(res)) {
        yield* messageEvents(await exchange.json(res));
        return;
      }

      const tools = new Map<number, ToolBlock>();
      let input = 0;
      let output = 0;
      let sawUsage = false;
      let stopReason: unknown;
      for await (const event of exchange.events(res)) {
        const payload = parseChunk(event.data);
        if (!isObject(payload)) throw new ProviderError('provider_protocol_error', 'The provider sent a malformed stream chunk.');
        const type = typeof payload.type === 'string' ? payload.type : event.event;
        switch (type) {
          case 'message_start': {
            const message = isObject(payload.message) ? payload.message : {};
            if (isObject(message.usage)) {
              sawUsage = true;
              input = inputTokens(message.usage);
              output = count(message.usage.output_tokens);
            }
            break;
          }
          case 'content_block_start': {
            const block = isObject(payload.content_block) ? payload.content_block : {};
            const index = count(payload.index);
            if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') {
              yield { type: 'delta', text: block.text };
            } else if (block.type === 'tool_use') {
              tools.set(index, {
                id: typeof block.id === 'string' ? block.id : `toolu_${index}`,
                name: typeof block.name === 'string' ? block.name : '',
                json: '',
                initial: block.input,
              });
            }
            break;
          }
          case 'content_block_delta': {
            const delta = isObject(payload.delta) ? payload.delta : {};
            if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text !== '') {
              yield { type: 'delta', text: delta.text };
            } else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
              const tool = tools.get(count(payload.index));
              if (tool) tool.json += delta.partial_json;
            }
            break; // thinking, signature and citation deltas are not part of the answer
          }
          case 'content_block_stop': {
            const index = count(payload.index);
            const tool = tools.get(index);
            if (tool) {
              tools.delete(index);
              const args = tool.json !== '' ? tool.json : isObject(tool.initial) ? JSON.stringify(tool.initial) : '{}';
              yield { type: 'tool_call', call: { id: tool.id, name: tool.name, arguments: args } };
            }
            break;
          }
          case 'message_delta': {
            const delta = isObject(payload.delta) ? payload.delta : {};
            if (delta.stop_reason !== undefined && delta.stop_reason !== null) stopReason = delta.stop_reason;
            if (isObject(payload.usage)) {
              sawUsage = true;
              if (payload.usage.output_tokens !== undefined) output = count(payload.usage.output_tokens);
              if (payload.usage.input_tokens !== undefined && payload.usage.input_tokens !== null) {
                input = Math.max(input, inputTokens(payload.usage));
              }
            }
            break;
          }
          case 'message_stop':
            if (sawUsage) yield { type: 'usage', inputTokens: input, outputTokens: output };
            yield { type: 'done', finishReason: mapStopReason(stopReason) };
            return;
          case 'error':
            throw streamError(payload);
          default:
            break; // ping and event types added after this was written
        }
      }
      throw new ProviderError('provider_unavailable', 'The provider stream ended before the answer was complete.');
    } finally {
      exchange.close();
    }
  }

  async test(signal?: AbortSignal): Promise<{ ok: true; models?: string[] }> {
    throwIfAborted(signal);
    return listModels(this.exchange(signal), joinUrl(this.options.baseUrl, '/v1/models'), this.headers('application/json'));
  }
}

/** Events for a non-streamed Messages response. */
function* messageEvents(body: unknown): Generator<ChatEvent> {
  if (!isObject(body)) throw new ProviderError('provider_protocol_error', 'The provider sent an unexpected response.');
  if (body.type === 'error') throw streamError(body);
  if (!Array.isArray(body.content)) throw new ProviderError('provider_protocol_error', 'The provider sent a message without content.');
  for (const block of body.content) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') yield { type: 'delta', text: block.text };
    if (block.type === 'tool_use') {
      yield {
        type: 'tool_call',
        call: {
          id: typeof block.id === 'string' ? block.id : 'toolu_0',
          name: typeof block.name === 'string' ? block.name : '',
          arguments: JSON.stringify(isObject(block.input) ? block.input : {}),
        },
      };
    }
  }
  if (isObject(body.usage)) yield { type: 'usage', inputTokens: inputTokens(body.usage), outputTokens: count(body.usage.output_tokens) };
  yield { type: 'done', finishReason: mapStopReason(body.stop_reason) };
}
