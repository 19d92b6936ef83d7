import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collect, startFakeLlm, tokens, type FakeLlm } from '../../../test/fake-llm.js';
import { OutboundHttp } from '../net/outbound.js';
import { parseAllowList } from '../net/ssrf-guard.js';
import { AnthropicProvider, anthropicRequestBody } from './anthropic.js';
import type { FetchLike } from './http.js';
import { ProviderError, type ChatEvent, type ChatRequest } from './types.js';

// As the app calls providers: through the network layer, whose responses have Node-stream bodies.
const outbound = new OutboundHttp({ purpose: 'providers', allow: parseAllowList('127.0.0.1:*') });
const realFetch: FetchLike = (url, init) => outbound.request(url, { ...init, timeoutMs: 60_000 });
const API_KEY = 'test-anthropic-key-0123456789';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await outbound.close();
  await fake.close();
});
beforeEach(() => fake.reset());

function provider(options: { idleTimeoutMs?: number; fetch?: FetchLike } = {}) {
  return new AnthropicProvider({ baseUrl: fake.url, apiKey: API_KEY, fetch: options.fetch ?? realFetch, idleTimeoutMs: options.idleTimeoutMs });
}

const ask = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'fake-model-1', messages: [{ role: 'user', content: 'Say hello.' }], ...extra });
const text = (events: ChatEvent[]) => events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');

function sse(events: Array<[string, object]>): FetchLike {
  const body = events.map(([type, data]) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`).join('');
  return async () => new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

describe('AnthropicProvider streaming', () => {
  it('streams text as several deltas, then usage, then done', async () => {
    fake.enqueue({ kind: 'text', text: 'The quick brown fox jumps.', usage: { input: 21, output: 6 } });
    const { items, error } = await collect(provider().stream(ask()));
    expect(error).toBeUndefined();
    expect(items.filter((e) => e.type === 'delta').length).toBeGreaterThanOrEqual(5);
    expect(text(items)).toBe('The quick brown fox jumps.');
    expect(items.slice(-2)).toEqual([
      { type: 'usage', inputTokens: 21, outputTokens: 6 },
      { type: 'done', finishReason: 'stop' },
    ]);
  });

  it('sends the Messages API shape with the key and version headers', async () => {
    await collect(
      provider().stream({
        model: 'fake-model-2',
        temperature: 0.3,
        tools: [{ name: 'search', description: 'Search the knowledge', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'system', content: 'Cite sources.' },
          { role: 'user', content: 'Compare the VPN and SSO guides.' },
          {
            role: 'assistant',
            content: 'Let me look.',
            toolCalls: [
              { id: 'toolu_1', name: 'search', arguments: '{"q":"vpn"}' },
              { id: 'toolu_2', name: 'search', arguments: '{"q":"sso"}' },
            ],
          },
          { role: 'tool', toolCallId: 'toolu_1', name: 'search', content: 'VPN: WireGuard.' },
          { role: 'tool', toolCallId: 'toolu_2', name: 'search', content: 'SSO: OIDC.' },
        ],
      }),
    );
    const [request] = fake.requests;
    expect(request!.path).toBe('/v1/messages');
    expect(request!.headers['x-api-key']).toBe(API_KEY);
    expect(request!.headers['anthropic-version']).toBe('2023-06-01');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.authorization).toBeUndefined();
    expect(request!.body).toEqual({
      model: 'fake-model-2',
      max_tokens: 1024,
      system: 'You are terse.\n\nCite sources.',
      temperature: 0.3,
      stream: true,
      tools: [{ name: 'search', description: 'Search the knowledge', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Compare the VPN and SSO guides.' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me look.' },
            { type: 'tool_use', id: 'toolu_1', name: 'search', input: { q: 'vpn' } },
            { type: 'tool_use', id: 'toolu_2', name: 'search', input: { q: 'sso' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'VPN: WireGuard.' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: 'SSO: OIDC.' },
          ],
        },
      ],
    });
  });

  it('merges a user message after tool results into the same turn, results first', () => {
    const body = anthropicRequestBody({
      model: 'm',
      maxTokens: 50,
      temperature: 1.7,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '', toolCalls: [{ id: 't1', name: 'f', arguments: 'not json' }] },
        { role: 'tool', toolCallId: 't1', name: 'f', content: 'r' },
        { role: 'user', content: 'and then?' },
      ],
    });
    expect(body.max_tokens).toBe(50);
    expect(body.temperature).toBe(1);
    expect(body.system).toBeUndefined();
    expect(body.messages).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'r' },
          { type: 'text', text: 'and then?' },
        ],
      },
    ]);
  });

  it('accumulates input_json_delta fragments into a tool call with intact arguments', async () => {
    const args = { query: 'rotate the signing keys', filters: { space: 'ops' }, note: 'quotes " ok' };
    fake.enqueue({ kind: 'tool_call', name: 'search_knowledge', arguments: args, id: 'toolu_abc' });
    const { items, error } = await collect(provider().stream(ask()));
    expect(error).toBeUndefined();
    expect(items.map((e) => e.type)).toEqual(['tool_call', 'usage', 'done']);
    const call = (items[0] as Extract<ChatEvent, { type: 'tool_call' }>).call;
    expect(call).toEqual({ id: 'toolu_abc', name: 'search_knowledge', arguments: JSON.stringify(args) });
    expect(JSON.parse(call.arguments)).toEqual(args);
    expect(items.at(-1)).toEqual({ type: 'done', finishReason: 'tool_calls' });
  });

  it('handles text then a tool call, ignores ping and thinking, maps max_tokens to length', async () => {
    const { items, error } = await collect(
      provider({
        fetch: sse([
          ['message_start', { message: { usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 } } }],
          ['content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }],
          ['content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }],
          ['content_block_stop', { index: 0 }],
          ['ping', {}],
          ['content_block_start', { index: 1, content_block: { type: 'text', text: '' } }],
          ['content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Checking' } }],
          ['content_block_stop', { index: 1 }],
          ['content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_9', name: 'noargs', input: {} } }],
          ['content_block_stop', { index: 2 }],
          ['message_delta', { delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 42 } }],
          ['message_stop', {}],
        ]),
      }).stream(ask()),
    );
    expect(error).toBeUndefined();
    expect(items).toEqual([
      { type: 'delta', text: 'Checking' },
      { type: 'tool_call', call: { id: 'toolu_9', name: 'noargs', arguments: '{}' } },
      { type: 'usage', inputTokens: 15, outputTokens: 42 },
      { type: 'done', finishReason: 'length' },
    ]);
  });

  it('reads a non-streamed message when a proxy ignores stream: true', async () => {
    const message = {
      type: 'message',
      content: [
        { type: 'text', text: 'Whole.' },
        { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 3, output_tokens: 4 },
    };
    const fetchJson: FetchLike = async () => new Response(JSON.stringify(message), { headers: { 'content-type': 'application/json' } });
    const { items } = await collect(provider({ fetch: fetchJson }).stream(ask()));
    expect(items).toEqual([
      { type: 'delta', text: 'Whole.' },
      { type: 'tool_call', call: { id: 'toolu_1', name: 'f', arguments: '{"a":1}' } },
      { type: 'usage', inputTokens: 3, outputTokens: 4 },
      { type: 'done', finishReason: 'tool_calls' },
    ]);
  });
});

describe('AnthropicProvider errors', () => {
  it.each([
    [401, 'provider_auth_failed'],
    [403, 'provider_auth_failed'],
    [429, 'provider_rate_limited'],
    [500, 'provider_unavailable'],
    [529, 'provider_unavailable'],
    [400, 'provider_bad_request'],
  ])('HTTP %i → %s', async (status, code) => {
    fake.enqueue({ kind: 'error', status });
    const { items, error } = await collect(provider().stream(ask()));
    expect(items).toEqual([]);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).not.toContain(API_KEY);
  });

  it('an error event mid-stream is a ProviderError after the deltas before it', async () => {
    const { items, error } = await collect(
      provider({
        fetch: sse([
          ['message_start', { message: { usage: { input_tokens: 1, output_tokens: 1 } } }],
          ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
          ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Par' } }],
          ['error', { error: { type: 'overloaded_error', message: 'Overloaded' } }],
        ]),
      }).stream(ask()),
    );
    expect(items).toEqual([{ type: 'delta', text: 'Par' }]);
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_unavailable' });
    expect((error as Error).message).toContain('Overloaded');
  });

  it('a malformed chunk is a protocol error', async () => {
    fake.enqueue({ kind: 'malformed' });
    const { error } = await collect(provider().stream(ask()));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_protocol_error' });
  });

  it('a disconnect mid-stream yields the partial deltas, then throws provider_unavailable', async () => {
    fake.enqueue({ kind: 'disconnect', text: tokens(20), afterTokens: 4 });
    const { items, error } = await collect(provider().stream(ask()));
    expect(text(items)).toBe(tokens(4));
    expect(items.filter((e) => e.type === 'delta')).toHaveLength(4);
    expect(items.some((e) => e.type === 'done')).toBe(false);
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_unavailable' });
  });

  it('a stream that ends cleanly before message_stop is provider_unavailable', async () => {
    const { items, error } = await collect(
      provider({
        fetch: sse([
          ['message_start', { message: { usage: { input_tokens: 1, output_tokens: 1 } } }],
          ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
          ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Half' } }],
        ]),
      }).stream(ask()),
    );
    expect(items).toEqual([{ type: 'delta', text: 'Half' }]);
    expect(error).toMatchObject({ code: 'provider_unavailable' });
  });

  it('a stalled stream hits the idle timeout', async () => {
    fake.enqueue({ kind: 'text', text: tokens(10), chunkDelayMs: 400 });
    const { items, error } = await collect(provider({ idleTimeoutMs: 150 }).stream(ask()));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_timeout' });
    expect(items.some((e) => e.type === 'done')).toBe(false);
  });

  it('aborting the signal stops the stream', async () => {
    fake.enqueue({ kind: 'text', text: tokens(50), chunkDelayMs: 30 });
    const controller = new AbortController();
    const seen: ChatEvent[] = [];
    let error: unknown;
    try {
      for await (const event of provider().stream(ask({ signal: controller.signal }))) {
        seen.push(event);
        if (seen.length === 2) controller.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(seen).toHaveLength(2);
    expect(error).toMatchObject({ name: 'AbortError' });
  });
});

describe('AnthropicProvider.test', () => {
  it('lists the models with the key and version headers', async () => {
    expect(await provider().test()).toEqual({ ok: true, models: ['fake-model-1', 'fake-model-2'] });
    expect(fake.requests[0]).toMatchObject({ path: '/v1/models', method: 'GET' });
    expect(fake.requests[0]!.headers['x-api-key']).toBe(API_KEY);
    expect(fake.requests[0]!.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('maps a 401 to provider_auth_failed', async () => {
    fake.enqueue({ kind: 'error', status: 401 });
    await expect(provider().test()).rejects.toMatchObject({ code: 'provider_auth_failed' });
  });
});
