import { describe, expect, it } from 'vitest';
import type { FetchLike } from './http.js';
import { codeForStatus, joinUrl, safeMessage } from './http.js';
import { AnthropicProvider, ExtractiveProvider, OpenAiProvider, createProvider } from './index.js';

describe('createProvider', () => {
  const urls: string[] = [];
  const recordingFetch: FetchLike = async (url) => {
    urls.push(url);
    return new Response(JSON.stringify({ data: [{ id: 'm' }] }), { headers: { 'content-type': 'application/json' } });
  };

  it('builds each kind with its default base URL', async () => {
    const openai = createProvider('openai', { apiKey: 'k-123456', fetch: recordingFetch });
    const anthropic = createProvider('anthropic', { apiKey: 'k-123456', fetch: recordingFetch });
    expect(openai).toBeInstanceOf(OpenAiProvider);
    expect(anthropic).toBeInstanceOf(AnthropicProvider);
    expect(createProvider('extractive', { fetch: recordingFetch })).toBeInstanceOf(ExtractiveProvider);
    await openai.test();
    await anthropic.test();
    expect(urls).toEqual(['https://api.openai.com/v1/models', 'https://api.anthropic.com/v1/models']);
  });

  it('uses a given base URL', async () => {
    urls.length = 0;
    await createProvider('openai', { baseUrl: 'http://127.0.0.1:11434/v1/', fetch: recordingFetch }).test();
    expect(urls).toEqual(['http://127.0.0.1:11434/v1/models']);
  });
});

describe('http helpers', () => {
  it('maps statuses to error codes', () => {
    expect([401, 403, 429, 408, 500, 502, 529, 400, 404, 422].map(codeForStatus)).toEqual([
      'provider_auth_failed',
      'provider_auth_failed',
      'provider_rate_limited',
      'provider_unavailable',
      'provider_unavailable',
      'provider_unavailable',
      'provider_unavailable',
      'provider_bad_request',
      'provider_bad_request',
      'provider_bad_request',
    ]);
  });

  it('joins paths onto base URLs, keeping the query', () => {
    expect(joinUrl('https://api.openai.com/v1', '/models')).toBe('https://api.openai.com/v1/models');
    expect(joinUrl('https://x.openai.azure.com/openai/deployments/gpt/?api-version=2024-10-21', '/chat/completions')).toBe('https://x.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21');
  });

  it('makes provider messages safe to show', () => {
    const message = safeMessage(`bad key my-secret-key-value\nBearer abc.def and sk-ant-api03-XYZxyz123456 ${'y'.repeat(400)}`, ['my-secret-key-value']);
    expect(message).not.toMatch(/my-secret-key-value|abc\.def|sk-ant-api03-XYZxyz123456|\n/);
    expect(message.length).toBeLessThanOrEqual(200);
  });
});
