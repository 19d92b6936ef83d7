/**
 * The suite's LLM provider: the project's fake (server/test/fake-llm.ts, the OpenAI
 * chat-completions SSE wire protocol over real HTTP) plus a control endpoint over HTTP
 * that switches its fault mode at runtime, for every chat that follows:
 *
 *   PUT  <control>/mode  {"mode": "never-answers"}   → 204 (400 for an unknown mode)
 *   GET  <control>/mode                               → {"mode": …, "modes": [...]}
 *
 * A separate listener, so the fake's own routes (and its 404s) stay as they are.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokens, type FakeLlm, type FakeReply } from '../fake-llm.js';

export const PROVIDER_MODES = {
  /** 20 tokens, 100 ms apart (a 2 s answer). */
  normal: { kind: 'text', text: tokens(20), chunkDelayMs: 100 },
  /** Headers only after 3 s, then 10 tokens. */
  'slow-first-byte': { kind: 'text', text: tokens(10), headerDelayMs: 3_000 },
  /** 5 tokens, then the socket is destroyed. */
  'mid-stream-drop': { kind: 'disconnect', text: tokens(20), afterTokens: 5 },
  /** A 200 event stream whose chunk is not JSON. */
  'garbage-sse': { kind: 'malformed' },
  /** HTTP 500 with an OpenAI error body. */
  'http-500': { kind: 'error', status: 500, body: { error: { message: 'boom' } } },
  /** Never sends headers. */
  'never-answers': { kind: 'hang' },
} satisfies Record<string, FakeReply>;

export type ProviderMode = keyof typeof PROVIDER_MODES;

export interface ProviderControl {
  /** http://127.0.0.1:<port> of the control endpoint. */
  url: string;
  /** Switches the mode through the control endpoint (over HTTP, as an operator would). */
  setMode(mode: ProviderMode): Promise<void>;
  close(): Promise<void>;
}

/** Enough replies for any scenario's load: the fake consumes one per chat request. */
const QUEUED = 2_000;

export async function startProviderControl(fake: FakeLlm): Promise<ProviderControl> {
  let mode: ProviderMode = 'normal';
  const apply = (next: ProviderMode) => {
    mode = next;
    fake.reset();
    fake.enqueue(...Array.from({ length: QUEUED }, () => PROVIDER_MODES[next] as FakeReply));
  };
  apply('normal');

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body?: object) => res.writeHead(status, body ? { 'content-type': 'application/json' } : {}).end(body ? JSON.stringify(body) : undefined);
      if (req.url !== '/mode') return send(404, { error: { code: 'not_found' } });
      if (req.method === 'GET') return send(200, { mode, modes: Object.keys(PROVIDER_MODES) });
      if (req.method !== 'PUT') return send(405, { error: { code: 'method_not_allowed' } });
      let next: unknown;
      try {
        next = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { mode?: unknown }).mode;
      } catch {
        return send(400, { error: { code: 'invalid_json' } });
      }
      if (typeof next !== 'string' || !(next in PROVIDER_MODES)) return send(400, { error: { code: 'unknown_mode', modes: Object.keys(PROVIDER_MODES) } });
      apply(next as ProviderMode);
      send(204);
    });
  });
  // The control connection idles for a whole scenario: with Node's 5 s keep-alive timeout the
  // server could close it just as the next call reuses it (ECONNRESET under load).
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    async setMode(next) {
      const put = () => fetch(`${url}/mode`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: next }) });
      // Idempotent: a call that lost its pooled connection is sent again once.
      const response = await put().catch(put);
      if (response.status !== 204) throw new Error(`provider control: ${response.status} ${await response.text()}`);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
