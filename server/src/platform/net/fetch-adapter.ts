/**
 * A fetch-shaped function over OutboundHttp, for libraries that accept a custom fetch
 * (openid-client): their calls then pass the SSRF guard and the timeout too.
 */
import type { OutboundHttp } from './outbound.js';

type Body = string | URLSearchParams | ArrayBuffer | Uint8Array | ReadableStream | null | undefined;

function bodyText(body: Body): string | undefined {
  if (body === null || body === undefined) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof ArrayBuffer || body instanceof Uint8Array) return Buffer.from(body as Uint8Array).toString('utf8');
  throw new TypeError('streamed request bodies are not supported');
}

export function guardedFetch(outbound: OutboundHttp, timeoutMs: number) {
  return (url: string, init: { method: string; headers: Record<string, string>; body?: Body; signal?: AbortSignal | null }): Promise<Response> => {
    const body = bodyText(init.body);
    return outbound.fetch(url, { method: init.method, headers: init.headers, timeoutMs, ...(body !== undefined ? { body } : {}), ...(init.signal ? { signal: init.signal } : {}) });
  };
}
