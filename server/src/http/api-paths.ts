/**
 * Which URLs are the API. Bastion's own API lives under /api; the OpenAI-compatible API
 * (modules/openai-compat) lives under /v1, outside it, because OpenAI clients take a base
 * URL and append `/chat/completions` and `/models` themselves: `new OpenAI({ baseURL:
 * 'https://bastion.example.org/v1' })`. Both are API for every boundary check
 * (authentication, rate limits, access, overload shedding, security headers, no SPA
 * fallback); only the error body differs (http/openai-errors.ts).
 */

/** Where the OpenAI-compatible routes live. */
export const OPENAI_PREFIX = '/v1';

/** True for `/v1` and anything below it (query string allowed), e.g. `/v1/chat/completions`. */
export function isOpenAiPath(url: string): boolean {
  return url.startsWith(OPENAI_PREFIX) && (url.length === OPENAI_PREFIX.length || url[OPENAI_PREFIX.length] === '/' || url[OPENAI_PREFIX.length] === '?');
}

/** True for a URL (or route pattern) of either API: `/api/…` or `/v1/…`. */
export function isApiPath(url: string): boolean {
  return url.startsWith('/api/') || isOpenAiPath(url);
}
