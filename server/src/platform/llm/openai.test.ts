import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collect, fakeEmbedding, startFakeLlm, tokens, type FakeLlm } from '../../../test/fake-llm.js';
import { OutboundHttp } from '../net/outbound.js';
import { parseAllowList } from '../net/ssrf-guard.js';
import type { FetchLike } from './http.js';
import { HttpProviderError } from './http.js';
import { embeddingVectors, OpenAiProvider } from './openai.js';
import { ProviderError, type ChatEvent, type ChatRequest } from './types.js';

// As the app calls providers: through the network layer, whose responses have Node-stream bodies.
const outbound = new OutboundHttp({ purpose: 'providers', allow: parseAllowList('127.0.0.1:*') });
const realFetch: FetchLike = (url, init) => outbound.request(url, { ...init, timeoutMs: 60_000 });
const API_KEY = 'test-openai-key-0123456789';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await outbound.close();
  await fake.close();
});
beforeEach(() => fake.reset());

function provider(options: { idleTimeoutMs?: number; firstByteTimeoutMs?: number; fetch?: FetchLike; headers?: Record<string, string> } = {}) {
  return new OpenAiProvider({ baseUrl: `${fake.url}/v1`, apiKey: API_KEY, fetch: options.fetch ?? realFetch, headers: options.headers, idleTimeoutMs: options.idleTimeoutMs, firstByteTimeoutMs: options.firstByteTimeoutMs });
}

const ask = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'fake-model-1', messages: [{ role: 'user', content: 'Say hello.' }], ...extra });

const text = (events: ChatEvent[]) => events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');

/** An in-memory response, for server behaviours the fake does not script. */
function fetchReturning(body: string, contentType = 'text/event-stream', status = 200): FetchLike {
  return async () => new Response(body, { status, headers: { 'content-type': contentType } });
}

describe('OpenAiProvider streaming', () => {
  it('streams text as several deltas, then usage, then done', async () => {
    fake.enqueue({ kind: 'text', text: 'The quick brown fox jumps.', usage: { input: 12, output: 5 } });
    const { items, error } = await collect(provider().stream(ask()));
    expect(error).toBeUndefined();
    const deltas = items.filter((e) => e.type === 'delta');
    expect(deltas.length).toBeGreaterThanOrEqual(5);
    expect(text(items)).toBe('The quick brown fox jumps.');
    expect(items.slice(-2)).toEqual([
      { type: 'usage', inputTokens: 12, outputTokens: 5 },
      { type: 'done', finishReason: 'stop' },
    ]);
  });

  it('answers the default reply when nothing is queued', async () => {
    const { items } = await collect(provider().stream(ask()));
    expect(text(items)).toBe('Hello from the fake model.');
    expect(items.at(-1)).toEqual({ type: 'done', finishReason: 'stop' });
  });

  it('sends the request in the chat-completions shape with the bearer key', async () => {
    await collect(
      provider({ headers: { 'x-extra': 'yes' } }).stream({
        model: 'fake-model-2',
        temperature: 0.2,
        maxTokens: 300,
        passages: [{ id: '1', source: 'doc', text: 'ignored by the provider', score: 1 }],
        tools: [{ name: 'search', description: 'Search the knowledge', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }],
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Find the VPN guide.' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'search', arguments: '{"q":"vpn"}' }] },
          { role: 'tool', toolCallId: 'call_1', name: 'search', content: 'VPN guide: use WireGuard.' },
        ],
      }),
    );
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request!.path).toBe('/v1/chat/completions');
    expect(request!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['x-extra']).toBe('yes');
    expect(request!.body).toEqual({
      model: 'fake-model-2',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 300,
      tools: [
        {
          type: 'function',
          function: { name: 'search', description: 'Search the knowledge', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } },
        },
      ],
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Find the VPN guide.' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":"vpn"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'VPN guide: use WireGuard.' },
      ],
    });
  });

  it('accumulates tool-call fragments into one call with intact JSON arguments', async () => {
    const args = { query: 'rotate the signing keys', filters: { space: 'ops', year: 2024 }, note: 'quotes " and \\ ok' };
    fake.enqueue({ kind: 'tool_call', name: 'search_knowledge', arguments: args, id: 'call_abc' });
    const { items, error } = await collect(provider().stream(ask({ tools: [{ name: 'search_knowledge', description: 'd', parameters: { type: 'object' } }] })));
    expect(error).toBeUndefined();
    const calls = items.filter((e) => e.type === 'tool_call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual({ type: 'tool_call', call: { id: 'call_abc', name: 'search_knowledge', arguments: JSON.stringify(args) } });
    expect(JSON.parse((calls[0] as Extract<ChatEvent, { type: 'tool_call' }>).call.arguments)).toEqual(args);
    expect(items.map((e) => e.type)).toEqual(['tool_call', 'usage', 'done']);
    expect(items.at(-1)).toEqual({ type: 'done', finishReason: 'tool_calls' });
  });

  it('passes arguments through exactly, even when they are not valid JSON', async () => {
    fake.enqueue({ kind: 'tool_call', name: 'search', arguments: '{"q": "unterminated' });
    const { items } = await collect(provider().stream(ask()));
    const call = items.find((e) => e.type === 'tool_call');
    expect(call).toMatchObject({ call: { name: 'search', arguments: '{"q": "unterminated' } });
  });

  it('accumulates several parallel tool calls by index, in order', async () => {
    const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const body = [
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'alpha', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'beta', arguments: '{"y"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: ':2}' } }] }),
      chunk({}, 'tool_calls'),
      'data: [DONE]\n\n',
    ].join('');
    const { items, error } = await collect(provider({ fetch: fetchReturning(body) }).stream(ask()));
    expect(error).toBeUndefined();
    expect(items).toEqual([
      { type: 'tool_call', call: { id: 'call_a', name: 'alpha', arguments: '{"x":1}' } },
      { type: 'tool_call', call: { id: 'call_b', name: 'beta', arguments: '{"y":2}' } },
      { type: 'done', finishReason: 'tool_calls' },
    ]);
  });

  it('maps finish_reason length and keeps usage before done', async () => {
    const body = [
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'cut' }, finish_reason: null }] })}\n\n`,
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }], usage: { prompt_tokens: 3, completion_tokens: 1 } })}\n\n`,
      'data: [DONE]\n\n',
    ].join('');
    const { items } = await collect(provider({ fetch: fetchReturning(body) }).stream(ask()));
    expect(items).toEqual([
      { type: 'delta', text: 'cut' },
      { type: 'usage', inputTokens: 3, outputTokens: 1 },
      { type: 'done', finishReason: 'length' },
    ]);
  });

  it('reads a non-streamed JSON completion when a proxy ignores stream: true', async () => {
    const completion = {
      choices: [{ index: 0, message: { role: 'assistant', content: 'Whole answer.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 4, completion_tokens: 2 },
    };
    const { items } = await collect(provider({ fetch: fetchReturning(JSON.stringify(completion), 'application/json') }).stream(ask()));
    expect(items).toEqual([
      { type: 'delta', text: 'Whole answer.' },
      { type: 'usage', inputTokens: 4, outputTokens: 2 },
      { type: 'done', finishReason: 'stop' },
    ]);
  });

  it('keeps the query of the base URL (Azure api-version)', async () => {
    const p = new OpenAiProvider({ baseUrl: `${fake.url}/v1?api-version=2024-10-21`, fetch: realFetch, headers: { 'api-key': 'azure-key-123456' } });
    await collect(p.stream(ask()));
    expect(fake.requests[0]!.path).toBe('/v1/chat/completions?api-version=2024-10-21');
    expect(fake.requests[0]!.headers['api-key']).toBe('azure-key-123456');
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });
});

describe('OpenAiProvider errors', () => {
  it.each([
    [401, 'provider_auth_failed'],
    [403, 'provider_auth_failed'],
    [429, 'provider_rate_limited'],
    [500, 'provider_unavailable'],
    [503, 'provider_unavailable'],
    [408, 'provider_unavailable'],
    [400, 'provider_bad_request'],
    [404, 'provider_bad_request'],
  ])('HTTP %i → %s', async (status, code) => {
    fake.enqueue({ kind: 'error', status });
    const { items, error } = await collect(provider().stream(ask()));
    expect(items).toEqual([]);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain(`HTTP ${status}`);
  });

  it('shows a short provider message, never the key, and reads Retry-After', async () => {
    fake.enqueue({
      kind: 'error',
      status: 429,
      retryAfter: '7',
      body: { error: { message: `Rate limit for key ${API_KEY} and sk-proj-abcdefghijklmnop reached. ${'x'.repeat(500)}`, type: 'requests' } },
    });
    const { error } = await collect(provider().stream(ask()));
    expect(error).toBeInstanceOf(HttpProviderError);
    const e = error as HttpProviderError;
    expect(e.code).toBe('provider_rate_limited');
    expect(e.status).toBe(429);
    expect(e.retryAfterMs).toBe(7000);
    expect(e.message).not.toContain(API_KEY);
    expect(e.message).not.toContain('sk-proj-abcdefghijklmnop');
    expect(e.message).toContain('Rate limit for key [redacted]');
    expect(e.message.length).toBeLessThan(260);
  });

  it('a malformed chunk is a protocol error', async () => {
    fake.enqueue({ kind: 'malformed' });
    const { error } = await collect(provider().stream(ask()));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_protocol_error' });
  });

  it('a disconnect mid-stream yields the partial deltas, then throws provider_unavailable', async () => {
    fake.enqueue({ kind: 'disconnect', text: tokens(20), afterTokens: 5 });
    const { items, error } = await collect(provider().stream(ask()));
    expect(text(items)).toBe(tokens(5));
    expect(items.filter((e) => e.type === 'delta')).toHaveLength(5);
    expect(items.some((e) => e.type === 'done')).toBe(false);
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_unavailable' });
  });

  it('a stream that ends cleanly without [DONE] or finish_reason is provider_unavailable', async () => {
    const body = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'half' }, finish_reason: null }] })}\n\n`;
    const { items, error } = await collect(provider({ fetch: fetchReturning(body) }).stream(ask()));
    expect(items).toEqual([{ type: 'delta', text: 'half' }]);
    expect(error).toMatchObject({ code: 'provider_unavailable' });
  });

  it('an error object inside the stream is mapped', async () => {
    const body = `data: ${JSON.stringify({ error: { code: 429, message: 'Rate limited upstream' } })}\n\n`;
    const { error } = await collect(provider({ fetch: fetchReturning(body) }).stream(ask()));
    expect(error).toMatchObject({ code: 'provider_rate_limited' });
  });

  it('a stalled stream hits the idle timeout: provider_timeout after the early deltas', async () => {
    fake.enqueue({ kind: 'text', text: tokens(10), chunkDelayMs: 400 });
    const started = Date.now();
    const { items, error } = await collect(provider({ idleTimeoutMs: 150 }).stream(ask()));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_timeout' });
    expect(items.some((e) => e.type === 'done')).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('slow but steady chunks within the idle timeout are fine', async () => {
    fake.enqueue({ kind: 'text', text: tokens(6), chunkDelayMs: 40 });
    const { items, error } = await collect(provider({ idleTimeoutMs: 400 }).stream(ask()));
    expect(error).toBeUndefined();
    expect(text(items)).toBe(tokens(6));
  });

  it('a server that never sends headers times out too (the first-byte timeout)', async () => {
    fake.enqueue({ kind: 'hang' });
    const { error } = await collect(provider({ firstByteTimeoutMs: 150 }).stream(ask()));
    expect(error).toMatchObject({ code: 'provider_timeout' });
  });

  it('aborting the signal stops the stream with the abort reason', async () => {
    fake.enqueue({ kind: 'text', text: tokens(50), chunkDelayMs: 30 });
    const controller = new AbortController();
    const seen: ChatEvent[] = [];
    let error: unknown;
    try {
      for await (const event of provider().stream(ask({ signal: controller.signal }))) {
        seen.push(event);
        if (seen.length === 3) controller.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(seen).toHaveLength(3);
    expect(error).toMatchObject({ name: 'AbortError' });
  });

  it.each(['the signal aborts', 'the reader stops'])('when %s mid-answer, the connection to the provider is closed at once', async (how) => {
    // A provider that streams until the client goes away, and tells when it did.
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    const endless = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => response.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x ' } }] })}\n\n`), 10);
      response.on('close', () => {
        clearInterval(timer);
        closed();
      });
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const controller = new AbortController();
      const p = new OpenAiProvider({ baseUrl: `http://127.0.0.1:${(endless.address() as AddressInfo).port}/v1`, fetch: realFetch });
      let deltas = 0;
      await collect(
        (async function* () {
          for await (const event of p.stream(ask({ signal: controller.signal }))) {
            if (event.type === 'delta' && ++deltas === 3) {
              if (how === 'the reader stops') return;
              controller.abort();
            }
            yield event;
          }
        })(),
      );
      expect(deltas).toBe(3);
      const started = performance.now();
      await gone;
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  });

  it('aborting while waiting for headers rejects at once', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('user left');
    setTimeout(() => controller.abort(reason), 50);
    const { error } = await collect(provider().stream(ask({ signal: controller.signal })));
    expect(error).toBe(reason);
  });

  it('an already-aborted signal sends nothing', async () => {
    const { error } = await collect(provider().stream(ask({ signal: AbortSignal.abort() })));
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(fake.requests).toHaveLength(0);
  });

  it('a refused connection is provider_unavailable', async () => {
    const closed = await startFakeLlm();
    await closed.close();
    const p = new OpenAiProvider({ baseUrl: `${closed.url}/v1`, fetch: realFetch });
    const { error } = await collect(p.stream(ask()));
    expect(error).toMatchObject({ code: 'provider_unavailable' });
  });

  it.each([
    ['blocked_address', 'provider_blocked'],
    ['timeout', 'provider_timeout'],
    ['dns_failed', 'provider_unavailable'],
  ])('a NetError %s from the network layer → %s', async (netCode, code) => {
    const netFetch: FetchLike = async () => {
      throw Object.assign(new Error(`net: ${netCode} for 10.0.0.1`), { name: 'NetError', code: netCode });
    };
    const { error } = await collect(provider({ fetch: netFetch }).stream(ask()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code });
  });

  it('a NetError aborted is rethrown as-is', async () => {
    const netError = Object.assign(new Error('aborted'), { name: 'NetError', code: 'aborted' });
    const { error } = await collect(provider({ fetch: async () => Promise.reject(netError) }).stream(ask()));
    expect(error).toBe(netError);
  });
});

describe('OpenAiProvider.test', () => {
  it('lists the models with the key', async () => {
    expect(await provider().test()).toEqual({ ok: true, models: ['fake-model-1', 'fake-model-2'] });
    expect(fake.requests[0]).toMatchObject({ path: '/v1/models', method: 'GET' });
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('maps a 401 to provider_auth_failed', async () => {
    fake.enqueue({ kind: 'error', status: 401 });
    await expect(provider().test()).rejects.toMatchObject({ code: 'provider_auth_failed' });
  });
});

describe('OpenAiProvider embeddings', () => {
  it('posts the inputs to /embeddings with the key and returns the vectors in input order', async () => {
    const vectors = await provider().embed({ model: 'embed-1', input: ['the car', 'a doctor'] });
    expect(vectors).toEqual([fakeEmbedding('the car'), fakeEmbedding('a doctor')]);
    const request = fake.requests.at(-1)!;
    expect(request.path).toBe('/v1/embeddings');
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.body).toEqual({ model: 'embed-1', input: ['the car', 'a doctor'], encoding_format: 'float' });
  });

  it('orders items by index', () => {
    expect(
      embeddingVectors(
        {
          data: [
            { index: 1, embedding: [0, 1] },
            { index: 0, embedding: [1, 0] },
          ],
        },
        2,
      ),
    ).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it('refuses unusable responses as a protocol error', () => {
    const bad: unknown[] = [
      null,
      { data: 'x' },
      { data: [{ embedding: [1] }] }, // one vector for two inputs
      { data: [{ embedding: [1, 2] }, { embedding: [1] }] }, // different lengths
      { data: [{ embedding: [1, 'x'] }, { embedding: [1, 2] }] },
      { data: [{ embedding: [1, null] }, { embedding: [1, 2] }] },
      {
        data: [
          { index: 0, embedding: [1] },
          { index: 0, embedding: [2] },
        ],
      }, // duplicate index
      {
        data: [
          { index: 5, embedding: [1] },
          { index: 0, embedding: [2] },
        ],
      },
      { data: [{ embedding: [] }, { embedding: [] }] },
    ];
    for (const body of bad) expect(() => embeddingVectors(body, 2), JSON.stringify(body)).toThrow(ProviderError);
  });

  it('maps provider failures like chat calls do', async () => {
    fake.enqueue({ kind: 'error', status: 401 });
    await expect(provider().embed({ model: 'embed-1', input: ['x'] })).rejects.toMatchObject({ code: 'provider_auth_failed' });
  });
});
