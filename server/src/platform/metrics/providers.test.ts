/** Provider call metrics, end to end against the fake LLM: latency and errors by provider kind. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { ProviderError, type ChatEvent, type LlmProvider } from '../llm/types.js';
import { Metrics } from './metrics.js';
import { observeProvider } from './providers.js';
import { parseExposition, valueOf, type Sample } from './scrape.js';

const TOKEN = randomBytes(32).toString('hex');
const chat = useChatApp({ METRICS_TOKEN: TOKEN, LLM_CACHE_TTL_SECONDS: '0' });

async function scrape(): Promise<Sample[]> {
  const response = await chat.t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.statusCode).toBe(200);
  return parseExposition(response.body);
}

const calls = (samples: Sample[], provider: string, operation: string) => valueOf(samples, 'bastion_provider_request_duration_seconds_count', { provider, operation }) ?? 0;
const errors = (samples: Sample[], provider: string, operation: string, code: string) => valueOf(samples, 'bastion_provider_errors_total', { provider, operation, code }) ?? 0;

describe('provider metrics', () => {
  it('times streamed answers and connection tests by provider kind and counts failures by code', async () => {
    const before = await scrape();
    const openai = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: 'Fine, thanks.', headerDelayMs: 30 });
    expect((await openai.client.post(`/conversations/${openai.conversationId}/messages`, { content: 'How are you?' })).statusCode).toBe(201);
    chat.fake.enqueue({ kind: 'error', status: 401 });
    expect((await openai.client.post(`/provider-connections/${openai.connectionId}/test`)).json()).toMatchObject({ ok: false, error: { code: 'provider_auth_failed' } });
    const anthropic = await setUpChat(chat, { kind: 'anthropic' });
    chat.fake.enqueue({ kind: 'text', text: 'Hello.' });
    expect((await anthropic.client.post(`/conversations/${anthropic.conversationId}/messages`, { content: 'Hi' })).statusCode).toBe(201);

    const after = await scrape();
    expect(calls(after, 'openai', 'stream') - calls(before, 'openai', 'stream')).toBe(1);
    expect(calls(after, 'openai', 'test') - calls(before, 'openai', 'test')).toBe(1);
    expect(calls(after, 'anthropic', 'stream') - calls(before, 'anthropic', 'stream')).toBe(1);
    expect(errors(after, 'openai', 'test', 'provider_auth_failed') - errors(before, 'openai', 'test', 'provider_auth_failed')).toBe(1);
    expect(errors(after, 'openai', 'stream', 'provider_auth_failed')).toBe(errors(before, 'openai', 'stream', 'provider_auth_failed'));
    // The first event waited for the delayed headers: at least 25 ms observed.
    const sum = (samples: Sample[]) => valueOf(samples, 'bastion_provider_request_duration_seconds_sum', { provider: 'openai', operation: 'stream' }) ?? 0;
    expect(sum(after) - sum(before)).toBeGreaterThanOrEqual(0.025);
    // The built-in provider makes no calls and is not measured.
    expect(after.some((s) => s.labels.provider === 'extractive')).toBe(false);
  });
});

describe('observeProvider', () => {
  function scripted(events: ChatEvent[], failAfter?: ProviderError): LlmProvider {
    return {
      kind: 'openai',
      async *stream() {
        for (const event of events) yield event;
        if (failAfter) throw failAfter;
      },
      test: () => Promise.reject(new DOMException('deadline', 'TimeoutError')),
    };
  }

  it('counts a failure mid-stream once, times the stream once, and ignores a caller that went away', async () => {
    const metrics = new Metrics({ defaults: false });
    const failing = observeProvider(scripted([{ type: 'delta', text: 'a' }], new ProviderError('provider_unavailable', 'lost')), metrics);
    await expect(async () => {
      for await (const event of failing.stream({ model: 'm', messages: [] })) void event;
    }).rejects.toThrow('lost');
    const cancelled = new AbortController();
    cancelled.abort();
    const stopped = observeProvider(scripted([], new ProviderError('provider_unavailable', 'aborted')), metrics);
    await expect(async () => {
      for await (const event of stopped.stream({ model: 'm', messages: [], signal: cancelled.signal })) void event;
    }).rejects.toThrow('aborted');
    // A deadline passing is a provider failure, not a cancellation.
    await expect(failing.test(AbortSignal.abort(new DOMException('deadline', 'TimeoutError')))).rejects.toThrow('deadline');

    const samples = parseExposition((await metrics.text()).body);
    expect(calls(samples, 'openai', 'stream')).toBe(2);
    expect(errors(samples, 'openai', 'stream', 'provider_unavailable')).toBe(1);
    expect(errors(samples, 'openai', 'test', 'provider_timeout')).toBe(1);
  });
});
