/**
 * LLM providers: `createProvider` builds one from its kind and connection settings; the
 * chat service talks to the result only through the LlmProvider contract in types.ts.
 */
import { AnthropicProvider } from './anthropic.js';
import { ExtractiveProvider } from './extractive.js';
import type { FetchLike } from './http.js';
import { OpenAiProvider } from './openai.js';
import type { LlmProvider } from './types.js';

export * from './types.js';
export { AnthropicProvider, ANTHROPIC_VERSION, DEFAULT_ANTHROPIC_MAX_TOKENS, type AnthropicProviderOptions } from './anthropic.js';
export { ExtractiveProvider, NO_ANSWER, extractiveAnswer } from './extractive.js';
export { DEFAULT_FIRST_BYTE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, HttpProviderError, type FetchLike } from './http.js';
export { OpenAiProvider, type OpenAiProviderOptions } from './openai.js';
export { parseSse, SseDecoder, type SseEvent } from './sse.js';

export type ProviderKind = LlmProvider['kind'];

export const DEFAULT_BASE_URLS = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
} as const;

export interface ProviderOptions {
  /** Defaults: https://api.openai.com/v1 (openai), https://api.anthropic.com (anthropic). */
  baseUrl?: string;
  apiKey?: string;
  fetch: FetchLike;
  /** Extra request headers (e.g. Azure's `api-key`). */
  headers?: Record<string, string>;
  /** Longest wait for the response headers, connecting and retries included (default 60 s; the app passes PROVIDER_TIMEOUT_MS). */
  firstByteTimeoutMs?: number;
  /** Longest gap between two chunks of the response body (default 30 s). */
  idleTimeoutMs?: number;
}

export function createProvider(kind: ProviderKind, options: ProviderOptions): LlmProvider {
  switch (kind) {
    case 'openai':
      return new OpenAiProvider({
        baseUrl: options.baseUrl || DEFAULT_BASE_URLS.openai,
        apiKey: options.apiKey,
        fetch: options.fetch,
        headers: options.headers,
        firstByteTimeoutMs: options.firstByteTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
      });
    case 'anthropic':
      return new AnthropicProvider({
        baseUrl: options.baseUrl || DEFAULT_BASE_URLS.anthropic,
        apiKey: options.apiKey ?? '',
        fetch: options.fetch,
        headers: options.headers,
        firstByteTimeoutMs: options.firstByteTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
      });
    case 'extractive':
      return new ExtractiveProvider();
    default: {
      const unknown: never = kind;
      throw new Error(`Unknown LLM provider kind: ${String(unknown)}`);
    }
  }
}
