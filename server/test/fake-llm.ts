/**
 * A fake LLM server on loopback speaking both wire protocols over real HTTP:
 *
 * - OpenAI: `POST /v1/chat/completions` (streamed with `stream: true`, else one JSON
 *   completion) and `GET /v1/models`;
 * - OpenAI embeddings: `POST /v1/embeddings` with `fakeEmbedding` vectors (queued failures
 *   apply to it too);
 * - a rerank endpoint, `POST /v1/rerank` in the Jina/Cohere shape, scoring each document by
 *   the cosine of its `fakeEmbedding` with the query's (queued failures apply; 404 while
 *   `rerankEndpoint` is false, as on servers that have none);
 * - Anthropic: `POST /v1/messages` (streamed or not) and `GET /v1/models` (Anthropic's
 *   list shape when the request carries `x-api-key` or `anthropic-version`).
 *
 * Every request is recorded (path, headers including `authorization` / `x-api-key`,
 * parsed body). Chat requests consume the scripted replies in order, or answer
 * DEFAULT_TEXT when none is queued; `GET /v1/models` consumes a queued reply only when it
 * is a failure (error, malformed, disconnect, hang), so `test()` can be scripted to fail.
 * Streams follow the real formats: OpenAI `data: {chunk}` lines with `choices[0].delta`,
 * a usage chunk when `stream_options.include_usage`, then `data: [DONE]`; Anthropic
 * `event:`/`data:` pairs message_start, content_block_start, ping, content_block_delta,
 * content_block_stop, message_delta, message_stop.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeReply =
  | {
      kind: 'text';
      /** Streamed word by word (each token is a word with its leading space). */
      text: string;
      /** Pause between streamed tokens. */
      chunkDelayMs?: number;
      /** Pause before the response headers. */
      headerDelayMs?: number;
      /** Reported usage; by default input = words in the request's messages, output = tokens sent. */
      usage?: { input: number; output: number };
    }
  | { kind: 'tool_call'; name: string; arguments: object | string; id?: string }
  | { kind: 'error'; status: number; body?: object; retryAfter?: string }
  /** Starts a 200 stream (or body) and sends a chunk that is not JSON. */
  | { kind: 'malformed' }
  /** Streams `afterTokens` tokens of `text`, then destroys the socket. */
  | { kind: 'disconnect'; text: string; afterTokens: number }
  /** Never sends headers (the request stays open until the client gives up or close()). */
  | { kind: 'hang' };

export interface RecordedRequest {
  path: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface FakeLlm {
  /** http://127.0.0.1:<port> (append /v1 for an OpenAI base URL). */
  url: string;
  requests: RecordedRequest[];
  /** Queues scripted replies, consumed in order; when empty, replies with the default text. */
  enqueue(...replies: FakeReply[]): void;
  /** Whether `POST /v1/rerank` exists (default true); false answers 404 like a server without one. */
  rerankEndpoint: boolean;
  /** Forgets recorded requests and queued replies, and turns the rerank endpoint back on. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_TEXT = 'Hello from the fake model.';
export const FAKE_MODELS = ['fake-model-1', 'fake-model-2'];
export const FAKE_EMBEDDING_DIMS = 64;

/** Words the fake embedding model treats as one meaning, so vector search can find what full-text search cannot. */
const SYNONYMS: Record<string, string> = { automobile: 'car', vehicle: 'car', cars: 'car', physician: 'doctor', doctors: 'doctor', purchase: 'buy', bought: 'buy', refund: 'reimburse', reimbursement: 'reimburse' };

/**
 * A deterministic bag-of-meanings embedding: each word (after SYNONYMS) adds to one of
 * `dims` buckets chosen by its hash; the vector is L2-normalised. Similar texts share
 * buckets, so cosine similarity ranks them close, like a real embedding model would.
 */
export function fakeEmbedding(text: string, dims = FAKE_EMBEDDING_DIMS): number[] {
  const vector = new Array<number>(dims).fill(0);
  for (const raw of text.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []) {
    const word = SYNONYMS[raw] ?? raw;
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619) >>> 0;
    vector[h % dims]! += 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((x) => x / norm);
}

/** A text of `n` distinct words: "word1 word2 … wordN". */
export function tokens(n: number): string {
  return Array.from({ length: n }, (_, i) => `word${i + 1}`).join(' ');
}

/** Splits text into word tokens, each with its leading whitespace (as real tokenizers do). */
function split(text: string): string[] {
  const parts = text.match(/\s*\S+/g) ?? [];
  const trailing = /\s+$/.exec(text)?.[0];
  if (trailing && parts.length > 0) parts[parts.length - 1] += trailing;
  return parts;
}

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '').length;

/** Words in every string the request's messages (and Anthropic system) carry. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function inputWords(body: any): number {
  let total = 0;
  const visit = (value: unknown): void => {
    if (typeof value === 'string') total += words(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      const v = value as Record<string, unknown>;
      visit(v.content ?? v.text);
    }
  };
  visit(body?.messages);
  visit(body?.system);
  return total;
}

type Protocol = 'openai' | 'anthropic';

const ERROR_MESSAGES: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'The request is invalid.'],
  401: ['authentication_error', 'Incorrect API key provided.'],
  403: ['permission_error', 'You do not have access to this model.'],
  404: ['not_found_error', 'The model does not exist.'],
  408: ['timeout_error', 'Request timed out.'],
  429: ['rate_limit_error', 'Rate limit reached for requests.'],
  500: ['api_error', 'The server had an error while processing your request.'],
  503: ['overloaded_error', 'The engine is currently overloaded.'],
  529: ['overloaded_error', 'Overloaded'],
};

function errorBody(protocol: Protocol, status: number): object {
  const [type, message] = ERROR_MESSAGES[status] ?? ['api_error', `HTTP ${status}`];
  if (protocol === 'anthropic') return { type: 'error', error: { type, message } };
  return { error: { message, type: status === 429 ? 'requests' : type, param: null, code: null } };
}

export async function startFakeLlm(): Promise<FakeLlm> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      let body: any;
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'invalid JSON body' } }));
        return;
      }
      const path = req.url ?? '/';
      requests.push({ path, method: req.method ?? 'GET', headers: { ...req.headers }, body });
      handle(req, res, path.split('?')[0]!, body).catch(() => res.destroy());
    });
    res.on('error', () => undefined);
  });

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function handle(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: any): Promise<void> {
    const anthropicHeaders = req.headers['x-api-key'] !== undefined || req.headers['anthropic-version'] !== undefined;
    if (req.method === 'GET' && path === '/v1/models') {
      const protocol: Protocol = anthropicHeaders ? 'anthropic' : 'openai';
      const head = queue[0];
      if (head && head.kind !== 'text' && head.kind !== 'tool_call') {
        queue.shift();
        await failure(res, protocol, head, false);
        return;
      }
      json(res, 200, protocol === 'anthropic' ? anthropicModels() : openAiModels());
      return;
    }
    if (req.method === 'POST' && path === '/v1/embeddings') {
      const head = queue[0];
      if (head && head.kind !== 'text' && head.kind !== 'tool_call') {
        queue.shift();
        await failure(res, 'openai', head, false);
        return;
      }
      const input: unknown[] = Array.isArray(body?.input) ? body.input : [body?.input];
      const dims = typeof body?.dimensions === 'number' ? body.dimensions : FAKE_EMBEDDING_DIMS;
      json(res, 200, {
        object: 'list',
        model: body?.model,
        data: input.map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(String(text), dims) })),
        usage: { prompt_tokens: input.length, total_tokens: input.length },
      });
      return;
    }
    if (req.method === 'POST' && path === '/v1/rerank' && fake.rerankEndpoint) {
      const head = queue[0];
      if (head && head.kind !== 'text' && head.kind !== 'tool_call') {
        queue.shift();
        await failure(res, 'openai', head, false);
        return;
      }
      const documents: unknown[] = Array.isArray(body?.documents) ? body.documents : [];
      const query = fakeEmbedding(String(body?.query ?? ''));
      const results = documents.map((document, index) => ({ index, relevance_score: fakeEmbedding(String(document)).reduce((sum, x, i) => sum + x * query[i]!, 0) })).sort((a, b) => b.relevance_score - a.relevance_score);
      const used = words(String(body?.query ?? '')) * documents.length + documents.reduce<number>((sum, document) => sum + words(String(document)), 0);
      json(res, 200, { model: body?.model, results, usage: { total_tokens: used } });
      return;
    }
    const protocol: Protocol | undefined = req.method === 'POST' && path === '/v1/chat/completions' ? 'openai' : req.method === 'POST' && path === '/v1/messages' ? 'anthropic' : undefined;
    if (!protocol) {
      json(res, 404, errorBody(anthropicHeaders ? 'anthropic' : 'openai', 404));
      return;
    }
    const reply: FakeReply = queue.shift() ?? { kind: 'text', text: DEFAULT_TEXT };
    const stream = body?.stream === true;
    const model = typeof body?.model === 'string' ? body.model : FAKE_MODELS[0]!;
    if (reply.kind === 'text' || reply.kind === 'tool_call') {
      if (reply.kind === 'text' && reply.headerDelayMs) await sleep(reply.headerDelayMs);
      if (!alive(res)) return;
      const usage = reply.kind === 'text' && reply.usage ? reply.usage : undefined;
      if (protocol === 'openai') {
        if (stream) await openAiStream(res, reply, model, body?.stream_options?.include_usage === true, inputWords(body), usage);
        else json(res, 200, openAiCompletion(reply, model, inputWords(body), usage));
      } else {
        if (stream) await anthropicStream(res, reply, model, inputWords(body), usage);
        else json(res, 200, anthropicMessage(reply, model, inputWords(body), usage));
      }
      return;
    }
    if (reply.kind === 'disconnect' && stream) {
      const tokensToSend = split(reply.text).slice(0, reply.afterTokens);
      if (protocol === 'openai') await openAiStream(res, { kind: 'text', text: tokensToSend.join('') }, model, false, 0, undefined, true);
      else await anthropicStream(res, { kind: 'text', text: tokensToSend.join('') }, model, 0, undefined, true);
      await sleep(20);
      res.socket?.destroy();
      return;
    }
    await failure(res, protocol, reply, stream);
  }

  /** Error, malformed, hang and (non-stream) disconnect replies. */
  async function failure(res: http.ServerResponse, protocol: Protocol, reply: FakeReply, stream: boolean): Promise<void> {
    switch (reply.kind) {
      case 'error': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (reply.retryAfter !== undefined) headers['retry-after'] = reply.retryAfter;
        if (protocol === 'anthropic') headers['request-id'] = `req_fake_${++seq}`;
        res.writeHead(reply.status, headers).end(JSON.stringify(reply.body ?? errorBody(protocol, reply.status)));
        return;
      }
      case 'malformed':
        if (!stream) {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "broken", "choices": [');
          return;
        }
        sse(res);
        if (protocol === 'openai') {
          res.write('data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\n\n');
        } else {
          res.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n');
        }
        await sleep(10);
        res.end();
        return;
      case 'disconnect':
        res.socket?.destroy();
        return;
      case 'hang':
        return; // the socket stays open until the client leaves or close() destroys it
      default:
        return;
    }
  }

  function alive(res: http.ServerResponse): boolean {
    return !closed && !res.destroyed && !res.writableEnded;
  }

  function json(res: http.ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  }

  function sse(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
  }

  async function send(res: http.ServerResponse, text: string, delayMs = 0): Promise<boolean> {
    if (delayMs > 0) await sleep(delayMs);
    if (!alive(res)) return false;
    res.write(text);
    return true;
  }

  function toolArguments(reply: Extract<FakeReply, { kind: 'tool_call' }>): string {
    return typeof reply.arguments === 'string' ? reply.arguments : JSON.stringify(reply.arguments);
  }

  /** Arguments split into small fragments, the way models stream them. */
  function fragments(text: string, size = 7): string[] {
    const out: string[] = [];
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
    return out;
  }

  async function openAiStream(
    res: http.ServerResponse,
    reply: Extract<FakeReply, { kind: 'text' | 'tool_call' }>,
    model: string,
    includeUsage: boolean,
    input: number,
    usage: { input: number; output: number } | undefined,
    cutAfter = false,
  ): Promise<void> {
    const id = `chatcmpl-fake${++seq}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finishReason: string | null = null) => {
      const value: Record<string, unknown> = {
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      };
      if (includeUsage) value.usage = null;
      return `data: ${JSON.stringify(value)}\n\n`;
    };
    sse(res);
    let output = 0;
    let finish: string;
    if (reply.kind === 'text') {
      const delay = reply.chunkDelayMs ?? 0;
      if (!(await send(res, chunk({ role: 'assistant', content: '', refusal: null })))) return;
      for (const token of split(reply.text)) {
        if (!(await send(res, chunk({ content: token }), delay))) return;
        output++;
      }
      finish = 'stop';
    } else {
      const callId = reply.id ?? `call_fake${seq}`;
      const args = toolArguments(reply);
      const first = { role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: reply.name, arguments: '' } }] };
      if (!(await send(res, chunk(first)))) return;
      for (const piece of fragments(args)) {
        if (!(await send(res, chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })))) return;
        output++;
      }
      finish = 'tool_calls';
    }
    if (cutAfter) return;
    if (!(await send(res, chunk({}, finish)))) return;
    if (includeUsage) {
      const u = usage ?? { input, output };
      const last = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output } };
      if (!(await send(res, `data: ${JSON.stringify(last)}\n\n`))) return;
    }
    if (!(await send(res, 'data: [DONE]\n\n'))) return;
    res.end();
  }

  function openAiCompletion(reply: Extract<FakeReply, { kind: 'text' | 'tool_call' }>, model: string, input: number, usage?: { input: number; output: number }): object {
    const message =
      reply.kind === 'text'
        ? { role: 'assistant', content: reply.text, refusal: null }
        : {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: reply.id ?? `call_fake${++seq}`, type: 'function', function: { name: reply.name, arguments: toolArguments(reply) } }],
          };
    const output = reply.kind === 'text' ? split(reply.text).length : fragments(toolArguments(reply)).length;
    const u = usage ?? { input, output };
    return {
      id: `chatcmpl-fake${++seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, message, logprobs: null, finish_reason: reply.kind === 'text' ? 'stop' : 'tool_calls' }],
      usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output },
    };
  }

  async function anthropicStream(res: http.ServerResponse, reply: Extract<FakeReply, { kind: 'text' | 'tool_call' }>, model: string, input: number, usage: { input: number; output: number } | undefined, cutAfter = false): Promise<void> {
    const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    sse(res);
    const message = {
      id: `msg_fake${++seq}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage?.input ?? input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    };
    if (!(await send(res, event('message_start', { message })))) return;
    let output = 0;
    let stopReason: string;
    if (reply.kind === 'text') {
      const delay = reply.chunkDelayMs ?? 0;
      if (!(await send(res, event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })))) return;
      if (!(await send(res, event('ping', {})))) return;
      for (const token of split(reply.text)) {
        if (!(await send(res, event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: token } }), delay))) return;
        output++;
      }
      stopReason = 'end_turn';
    } else {
      const block = { type: 'tool_use', id: reply.id ?? `toolu_fake${seq}`, name: reply.name, input: {} };
      if (!(await send(res, event('content_block_start', { index: 0, content_block: block })))) return;
      if (!(await send(res, event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '' } })))) return;
      for (const piece of fragments(toolArguments(reply))) {
        if (!(await send(res, event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: piece } })))) return;
        output++;
      }
      stopReason = 'tool_use';
    }
    if (cutAfter) return;
    if (!(await send(res, event('content_block_stop', { index: 0 })))) return;
    const delta = { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage?.output ?? output } };
    if (!(await send(res, event('message_delta', delta)))) return;
    if (!(await send(res, event('message_stop', {})))) return;
    res.end();
  }

  function anthropicMessage(reply: Extract<FakeReply, { kind: 'text' | 'tool_call' }>, model: string, input: number, usage?: { input: number; output: number }): object {
    const content =
      reply.kind === 'text' ? [{ type: 'text', text: reply.text }] : [{ type: 'tool_use', id: reply.id ?? `toolu_fake${++seq}`, name: reply.name, input: typeof reply.arguments === 'string' ? JSON.parse(reply.arguments) : reply.arguments }];
    const output = reply.kind === 'text' ? split(reply.text).length : fragments(toolArguments(reply)).length;
    return {
      id: `msg_fake${++seq}`,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: reply.kind === 'text' ? 'end_turn' : 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: usage?.input ?? input, output_tokens: usage?.output ?? output },
    };
  }

  function openAiModels(): object {
    return { object: 'list', data: FAKE_MODELS.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'fake' })) };
  }

  function anthropicModels(): object {
    const data = FAKE_MODELS.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }));
    return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const fake: FakeLlm = {
    url: `http://127.0.0.1:${port}`,
    requests,
    rerankEndpoint: true,
    enqueue(...replies) {
      queue.push(...replies);
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      fake.rerankEndpoint = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await done;
    },
  };
  return fake;
}

/** Drains an async iterable; a thrown error is returned next to the items seen before it. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of iterable) items.push(item);
    return { items };
  } catch (error) {
    return { items, error };
  }
}
