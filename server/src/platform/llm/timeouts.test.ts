/**
 * A provider call's timeouts on real loopback sockets (docs/architecture.md, "Timeouts of a provider call"):
 * the wait for the response headers is bounded by the first-byte timeout (PROVIDER_TIMEOUT_MS
 * in the app), not the idle one; a stream that stalls after its headers by the idle timeout.
 * Each holds for a WHATWG body (fetch) and for the Node-stream body the app reads providers
 * through (OutboundHttp.request).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../../test/fake-llm.js';
import { OutboundHttp } from '../net/outbound.js';
import { parseAllowList } from '../net/ssrf-guard.js';
import { createProvider, type FetchLike } from './index.js';
import type { ChatRequest } from './types.js';

const FIRST_BYTE_MS = 700;
const IDLE_MS = 200;

/** A provider that accepts every connection and request, then never answers. */
let silent: http.Server;
/** A provider that sends 200 with an event-stream header and one chunk, then nothing more. */
let stalling: http.Server;
const sockets = new Set<Socket>();

function listen(server: http.Server): Promise<string> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

let silentUrl: string;
let stallingUrl: string;
beforeAll(async () => {
  silent = http.createServer(() => undefined);
  stalling = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    // OpenAI's and Anthropic's first event; neither ends the answer.
    response.write(`data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] })}\n\n`);
    response.write(`event: ping\ndata: ${JSON.stringify({ type: 'ping' })}\n\n`);
  });
  [silentUrl, stallingUrl] = await Promise.all([listen(silent), listen(stalling)]);
});
const outbound = new OutboundHttp({ purpose: 'providers', allow: parseAllowList('127.0.0.1:*') });
afterAll(async () => {
  await outbound.close();
  for (const socket of sockets) socket.destroy();
  await Promise.all([silent, stalling].map((server) => new Promise((resolve) => server.close(resolve))));
});

const fetches: Array<[string, FetchLike]> = [
  ['fetch', (url, init) => fetch(url, init)],
  ['OutboundHttp.request', (url, init) => outbound.request(url, { ...init, timeoutMs: 5_000 })],
];
const ask: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'Hello?' }] };
const baseUrl = (url: string, kind: 'openai' | 'anthropic') => (kind === 'openai' ? `${url}/v1` : url);

async function timed(run: () => Promise<{ error?: unknown }>): Promise<{ error: unknown; elapsed: number }> {
  const started = performance.now();
  const { error } = await run();
  return { error, elapsed: performance.now() - started };
}

describe.each(fetches.flatMap(([name, fetch]) => (['openai', 'anthropic'] as const).map((kind) => [kind, name, fetch] as const)))('%s provider timeouts over %s', (kind, _name, plainFetch) => {
  it('a provider that accepts the connection and never answers times out at the first-byte timeout, not the idle one', async () => {
    const provider = createProvider(kind, { baseUrl: baseUrl(silentUrl, kind), apiKey: 'k-123456', fetch: plainFetch, firstByteTimeoutMs: FIRST_BYTE_MS, idleTimeoutMs: IDLE_MS });
    const { error, elapsed } = await timed(() => collect(provider.stream(ask)));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_timeout', message: `The provider did not start answering within ${FIRST_BYTE_MS} ms.` });
    expect(elapsed).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 20);
    expect(elapsed).toBeLessThan(FIRST_BYTE_MS + 600);
  });

  it('a stream that stalls after its headers times out at the idle timeout', async () => {
    const provider = createProvider(kind, { baseUrl: baseUrl(stallingUrl, kind), apiKey: 'k-123456', fetch: plainFetch, firstByteTimeoutMs: 5_000, idleTimeoutMs: IDLE_MS });
    const { error, elapsed } = await timed(() => collect(provider.stream(ask)));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_timeout', message: `The provider stream stalled for more than ${IDLE_MS} ms.` });
    expect(elapsed).toBeGreaterThanOrEqual(IDLE_MS - 20);
    expect(elapsed).toBeLessThan(IDLE_MS + 600);
  });
});

describe('through the network layer, as the app calls a provider', () => {
  it('PROVIDER_TIMEOUT_MS bounds each attempt and the provider alike: one timeout, at that time', async () => {
    // What compose/providers.ts wires: the outbound client's per-attempt deadline and the
    // provider's first-byte timeout are both PROVIDER_TIMEOUT_MS, longer here than the idle one.
    const client = new OutboundHttp({ purpose: 'providers', allow: parseAllowList('127.0.0.1:*') });
    try {
      const fetchThroughNet: FetchLike = (url, init) => client.request(url, { ...init, timeoutMs: FIRST_BYTE_MS, maxRetries: 2 });
      const provider = createProvider('openai', { baseUrl: `${silentUrl}/v1`, fetch: fetchThroughNet, firstByteTimeoutMs: FIRST_BYTE_MS, idleTimeoutMs: IDLE_MS });
      const { error, elapsed } = await timed(() => collect(provider.stream(ask)));
      expect(error).toMatchObject({ name: 'ProviderError', code: 'provider_timeout' });
      expect(elapsed).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 20); // not cut at the idle timeout
      expect(elapsed).toBeLessThan(FIRST_BYTE_MS + 600); // and a timeout is not retried
    } finally {
      await client.close();
    }
  });
});
