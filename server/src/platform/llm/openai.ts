/**
 * The OpenAI chat-completions wire protocol, streamed: OpenAI, Azure OpenAI, Ollama,
 * vLLM, LM Studio, OpenRouter and any other compatible endpoint.
 *
 * Tool-call fragments are accumulated by index and emitted when the model finishes
 * (finish_reason or the end of the stream); usage is emitted once, just before `done`.
 * A stream that ends before `[DONE]` (and before any finish_reason) throws
 * provider_unavailable after the deltas already received were yielded.
 */
import { DEFAULT_FIRST_BYTE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, Exchange, codeForStatus, isJsonResponse, isObject, joinUrl, listModels, parseChunk, providerErrorMessage, safeMessage, throwIfAborted, type FetchLike } from './http.js';
import { ProviderError, type ChatEvent, type ChatMessage, type ChatRequest, type EmbedRequest, type FinishReason, type LlmProvider, type RerankRequest, type RerankResult, type ToolCall } from './types.js';

export interface OpenAiProviderOptions {
  /** e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1; a query (Azure api-version) is kept. */
  baseUrl: string;
  apiKey?: string;
  fetch: FetchLike;
  /** Extra headers, e.g. Azure's `api-key` or OpenRouter's `HTTP-Referer`. */
  headers?: Record<string, string>;
  /** Longest wait for the response headers (connecting and retries included). Default 60 s. */
  firstByteTimeoutMs?: number;
  /** Longest gap between two chunks of the response body. Default 30 s. */
  idleTimeoutMs?: number;
}

/** The request body sent to `/chat/completions` (exported for tests and debugging). */
export function openAiRequestBody(request: ChatRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: request.model,
    messages: request.messages.map(mapMessage),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, description: tool.description, parameters: tool.parameters },
    }));
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  return body;
}

function mapMessage(message: ChatMessage): Record<string, unknown> {
  switch (message.role) {
    case 'system':
    case 'user':
      return { role: message.role, content: message.content };
    case 'assistant': {
      const calls = message.toolCalls ?? [];
      if (calls.length === 0) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        content: message.content === '' ? null : message.content,
        tool_calls: calls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        })),
      };
    }
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

function mapFinishReason(reason: string): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
    case 'error':
      return 'error';
    default:
      return 'stop';
  }
}

interface PartialCall {
  id: string;
  name: string;
  arguments: string;
}

/** Accumulates streamed tool-call fragments (id and name first, arguments in pieces). */
class ToolCallAccumulator {
  private readonly calls: PartialCall[] = [];
  private readonly byIndex = new Map<number, PartialCall>();

  add(fragment: unknown): void {
    if (!isObject(fragment)) return;
    const id = typeof fragment.id === 'string' && fragment.id !== '' ? fragment.id : undefined;
    let call: PartialCall | undefined;
    if (typeof fragment.index === 'number') {
      call = this.byIndex.get(fragment.index);
      if (!call) {
        call = { id: '', name: '', arguments: '' };
        this.byIndex.set(fragment.index, call);
        this.calls.push(call);
      }
    } else if (id !== undefined) {
      // Servers that omit `index` send each call whole, or repeat its id.
      call = this.calls.find((c) => c.id === id);
      if (!call) {
        call = { id: '', name: '', arguments: '' };
        this.calls.push(call);
      }
    } else {
      call = this.calls.at(-1);
      if (!call) {
        call = { id: '', name: '', arguments: '' };
        this.calls.push(call);
      }
    }
    if (id !== undefined && call.id === '') call.id = id;
    const fn = isObject(fragment.function) ? fragment.function : {};
    if (typeof fn.name === 'string' && fn.name !== '' && call.name === '') call.name = fn.name;
    if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
    else if (isObject(fn.arguments)) call.arguments += JSON.stringify(fn.arguments);
  }

  get size(): number {
    return this.calls.length;
  }

  /** The finished calls (once); ids the server left out are made up. */
  take(): ToolCall[] {
    const calls = this.calls.splice(0).map((call, i) => ({
      id: call.id || `call_${i + 1}`,
      name: call.name,
      arguments: call.arguments,
    }));
    this.byIndex.clear();
    return calls;
  }
}

export class OpenAiProvider implements LlmProvider {
  readonly kind = 'openai' as const;
  private readonly firstByteTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: OpenAiProviderOptions) {
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    return { ...headers, ...this.options.headers };
  }

  private exchange(signal: AbortSignal | undefined): Exchange {
    return new Exchange({
      fetch: this.options.fetch,
      firstByteTimeoutMs: this.firstByteTimeoutMs,
      idleTimeoutMs: this.idleTimeoutMs,
      signal,
      secrets: [this.options.apiKey, ...Object.values(this.options.headers ?? {})],
    });
  }

  /** `POST /embeddings`: vectors in input order, all of one length, finite numbers only. */
  async embed(request: EmbedRequest): Promise<number[][]> {
    throwIfAborted(request.signal);
    if (request.input.length === 0) return [];
    const exchange = this.exchange(request.signal);
    try {
      const res = await exchange.send(joinUrl(this.options.baseUrl, '/embeddings'), {
        method: 'POST',
        headers: { ...this.headers('application/json'), 'content-type': 'application/json' },
        body: JSON.stringify({ model: request.model, input: request.input, encoding_format: 'float' }),
      });
      return embeddingVectors(await exchange.json(res), request.input.length);
    } catch (err) {
      throw exchange.mapError(err, 'connect');
    } finally {
      exchange.close();
    }
  }

  /**
   * `POST /rerank` in the shape Jina, Cohere (v2), vLLM, llama.cpp's server, LocalAI and
   * Infinity share: `{model, query, documents}` in, `{results: [{index, relevance_score}]}` out.
   */
  async rerank(request: RerankRequest): Promise<RerankResult> {
    throwIfAborted(request.signal);
    if (request.documents.length === 0) return { scores: [], inputTokens: 0 };
    const exchange = this.exchange(request.signal);
    try {
      const res = await exchange.send(joinUrl(this.options.baseUrl, '/rerank'), {
        method: 'POST',
        headers: { ...this.headers('application/json'), 'content-type': 'application/json' },
        body: JSON.stringify({ model: request.model, query: request.query, documents: request.documents, top_n: request.documents.length, return_documents: false }),
      });
      return rerankScores(await exchange.json(res), request.documents.length);
    } catch (err) {
      throw exchange.mapError(err, 'connect');
    } finally {
      exchange.close();
    }
  }

  async *stream(request: ChatRequest): AsyncGenerator<ChatEvent, void, undefined> {
    throwIfAborted(request.signal);
    const exchange = this.exchange(request.signal);
    try {
      const res = await exchange.send(joinUrl(this.options.baseUrl, '/chat/completions'), {
        method: 'POST',
        headers: { ...this.headers('text/event-stream'), 'content-type': 'application/json' },
        body: JSON.stringify(openAiRequestBody(request)),
      });
      if (isJsonResponse(res)) {
        // A proxy (or server) that ignored `stream: true`: a whole completion.
        yield* completionEvents(await exchange.json(res));
        return;
      }

      const calls = new ToolCallAccumulator();
      let finish: FinishReason | undefined;
      let usage: ChatEvent | undefined;
      let complete = false;
      const finishEvents = function* (): Generator<ChatEvent> {
        const taken = calls.take();
        for (const call of taken) yield { type: 'tool_call', call };
        if (taken.length > 0 && (finish === undefined || finish === 'stop')) finish = 'tool_calls';
      };

      try {
        for await (const event of exchange.events(res)) {
          const data = event.data.trim();
          if (data === '[DONE]') {
            complete = true;
            break;
          }
          if (data === '') continue;
          const chunk = parseChunk(data);
          if (!isObject(chunk)) throw new ProviderError('provider_protocol_error', 'The provider sent a malformed stream chunk.');
          if (chunk.error !== undefined && chunk.error !== null) throw streamError(chunk.error);
          if (isObject(chunk.usage)) usage = usageEvent(chunk.usage);
          const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
          const choice: unknown = choices.find((c) => isObject(c) && (c.index === undefined || c.index === 0)) ?? choices[0];
          if (!isObject(choice)) continue;
          const delta = isObject(choice.delta) ? choice.delta : isObject(choice.message) ? choice.message : undefined;
          if (delta) {
            if (typeof delta.content === 'string' && delta.content !== '') yield { type: 'delta', text: delta.content };
            if (Array.isArray(delta.tool_calls)) for (const fragment of delta.tool_calls) calls.add(fragment);
          }
          if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') {
            finish = mapFinishReason(choice.finish_reason);
            yield* finishEvents();
          }
        }
      } catch (err) {
        // A connection lost after the model finished (only usage or [DONE] missing) still
        // completes the turn; anything else propagates.
        const lateFailure = err instanceof ProviderError && (err.code === 'provider_unavailable' || err.code === 'provider_timeout');
        if (finish === undefined || !lateFailure) throw err;
        complete = true;
      }
      if (!complete && finish === undefined) {
        throw new ProviderError('provider_unavailable', 'The provider stream ended before the answer was complete.');
      }
      yield* finishEvents();
      if (usage) yield usage;
      yield { type: 'done', finishReason: finish ?? 'stop' };
    } finally {
      exchange.close();
    }
  }

  async test(signal?: AbortSignal): Promise<{ ok: true; models?: string[] }> {
    throwIfAborted(signal);
    return listModels(this.exchange(signal), joinUrl(this.options.baseUrl, '/models'), this.headers('application/json'));
  }
}

function usageEvent(usage: Record<string, unknown>): ChatEvent {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { type: 'usage', inputTokens: n(usage.prompt_tokens), outputTokens: n(usage.completion_tokens) };
}

/** An `error` object inside a 200 stream (OpenRouter, vLLM). */
function streamError(error: unknown): ProviderError {
  const status = isObject(error) && typeof error.code === 'number' ? error.code : undefined;
  const message = providerErrorMessage({ error }) ?? 'unknown error';
  const code = status !== undefined && status >= 400 ? codeForStatus(status) : 'provider_unavailable';
  return new ProviderError(code, `The provider reported an error mid-stream: ${safeMessage(message)}`);
}

/** Events for a non-streamed chat completion. */
function* completionEvents(body: unknown): Generator<ChatEvent> {
  if (!isObject(body)) throw new ProviderError('provider_protocol_error', 'The provider sent an unexpected response.');
  if (body.error !== undefined && body.error !== null) throw streamError(body.error);
  const choice: unknown = Array.isArray(body.choices) ? body.choices[0] : undefined;
  if (!isObject(choice) || !isObject(choice.message)) {
    throw new ProviderError('provider_protocol_error', 'The provider sent a completion without a message.');
  }
  const message = choice.message;
  if (typeof message.content === 'string' && message.content !== '') yield { type: 'delta', text: message.content };
  const calls = new ToolCallAccumulator();
  if (Array.isArray(message.tool_calls)) message.tool_calls.forEach((call: unknown, index) => calls.add(isObject(call) ? { index, ...call } : call));
  const taken = calls.take();
  for (const call of taken) yield { type: 'tool_call', call };
  if (isObject(body.usage)) yield usageEvent(body.usage);
  let finish = typeof choice.finish_reason === 'string' ? mapFinishReason(choice.finish_reason) : 'stop';
  if (taken.length > 0 && finish === 'stop') finish = 'tool_calls';
  yield { type: 'done', finishReason: finish };
}

/** The `results` of a rerank response as one score per document (in the documents' order), checked. */
export function rerankScores(body: unknown, expected: number): RerankResult {
  const bad = (why: string) => new ProviderError('provider_protocol_error', `The provider sent an unusable rerank response: ${why}.`);
  if (!isObject(body) || !Array.isArray(body.results)) throw bad('no results list');
  const scores = new Array<number>(expected).fill(Number.NEGATIVE_INFINITY);
  for (const item of body.results as unknown[]) {
    if (!isObject(item) || !Number.isInteger(item.index) || (item.index as number) < 0 || (item.index as number) >= expected) throw bad('a result without a valid index');
    const score = item.relevance_score ?? item.score;
    if (typeof score !== 'number' || !Number.isFinite(score)) throw bad('a score that is not a finite number');
    scores[item.index as number] = score;
  }
  if (scores.some((s) => s === Number.NEGATIVE_INFINITY)) throw bad('fewer results than documents');
  const usage = isObject(body.usage) ? body.usage : isObject(body.meta) && isObject(body.meta.billed_units) ? body.meta.billed_units : {};
  const tokens = usage.prompt_tokens ?? usage.total_tokens ?? usage.input_tokens ?? 0;
  return { scores, inputTokens: typeof tokens === 'number' && Number.isFinite(tokens) && tokens >= 0 ? Math.round(tokens) : 0 };
}

/** The `data` of an embeddings response, ordered by `index` and checked. */
export function embeddingVectors(body: unknown, expected: number): number[][] {
  const bad = (why: string) => new ProviderError('provider_protocol_error', `The provider sent an unusable embeddings response: ${why}.`);
  if (!isObject(body) || !Array.isArray(body.data)) throw bad('no data');
  if (body.data.length !== expected) throw bad(`${body.data.length} vectors for ${expected} inputs`);
  const vectors: number[][] = new Array<number[]>(expected);
  body.data.forEach((item: unknown, i: number) => {
    if (!isObject(item) || !Array.isArray(item.embedding)) throw bad('an item without an embedding');
    const index = typeof item.index === 'number' ? item.index : i;
    if (!Number.isInteger(index) || index < 0 || index >= expected || vectors[index]) throw bad('indexes out of order');
    if (!item.embedding.every((x: unknown) => typeof x === 'number' && Number.isFinite(x))) throw bad('a value that is not a finite number');
    vectors[index] = item.embedding as number[];
  });
  const dims = vectors[0]!.length;
  if (dims === 0 || dims > 4_000 || vectors.some((v) => v.length !== dims)) throw bad('vectors of different or unsupported lengths');
  return vectors;
}
