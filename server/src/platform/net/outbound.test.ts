/**
 * OutboundHttp's resilience on real sockets: retries, deadlines, cancellation, the
 * circuit breaker and bounded reads, against a node:http server on 127.0.0.1. The first
 * three are the same for `fetch` (a WHATWG body) and `request` (a Node-stream body).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { NetError, type NetErrorCode } from './errors.js';
import { OutboundHttp, readTextLimited, type OutboundRequest } from './outbound.js';
import { parseAllowList } from './ssrf-guard.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let handler: Handler;
let bodies: string[];
let sleeps: number[];
const clock = new ManualClock();

// Sleeps are recorded, not waited for: the tests check the schedule, not the wall clock.
const http = new OutboundHttp({
  purpose: 'providers',
  allow: parseAllowList('127.0.0.1:*'),
  clock,
  random: () => 0.5,
  sleep: async (ms, signal) => {
    sleeps.push(ms);
    signal?.throwIfAborted();
  },
});

/** Answers with the given statuses in turn, then the last one forever. */
function statuses(...sequence: Array<[number, Record<string, string>?]>): Handler {
  return (_req, res) => {
    const [status, headers] = sequence.length > 1 ? sequence.shift()! : sequence[0]!;
    res.writeHead(status, headers).end(`status ${status}`);
  };
}

async function expectCode(promise: Promise<unknown>, code: NetErrorCode): Promise<void> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NetError);
  expect((error as NetError).code).toBe(code);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      bodies.push(body);
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  bodies = [];
  sleeps = [];
  handler = statuses([200]);
});

afterAll(async () => {
  await http.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const hang: Handler = () => undefined; // never answers

/** Either way of asking, answering with the status and the body read as text. */
type Send = (url: string, request: OutboundRequest) => Promise<{ status: number; text(): Promise<string> }>;

async function readAll(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

const methods: Array<[string, Send]> = [
  ['fetch', (url, request) => http.fetch(url, request)],
  [
    'request',
    async (url, request) => {
      const response = await http.request(url, request);
      return { status: response.status, text: () => readAll(response.body) };
    },
  ],
];

describe.each(methods)('%s', (_name, send) => {
  describe('retries', () => {
    it('retries a 503 with jittered backoff, resending the body, then returns the success', async () => {
      handler = statuses([503], [503], [200]);
      const response = await send(`${base}/chat`, { method: 'POST', body: '{"q":1}', timeoutMs: 2_000, maxRetries: 3 });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('status 200');
      expect(bodies).toEqual(['{"q":1}', '{"q":1}', '{"q":1}']);
      expect(sleeps).toEqual([125, 250]); // random 0.5 × 250·2^n
    });

    it('honours Retry-After in seconds and as an HTTP date, up to the cap', async () => {
      const inThreeSeconds = new Date(clock.now().getTime() + 3_000).toUTCString();
      handler = statuses([429, { 'retry-after': '2' }], [503, { 'retry-after': inThreeSeconds }], [503, { 'retry-after': '600' }], [200]);
      const response = await send(`${base}/`, { timeoutMs: 2_000, maxRetries: 3 });
      expect(response.status).toBe(200);
      expect(sleeps).toEqual([2_000, 3_000, 4_000]);
    });

    it('gives up after maxRetries and returns the last response, body unread', async () => {
      handler = statuses([502], [503]);
      const response = await send(`${base}/`, { timeoutMs: 2_000, maxRetries: 2 });
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('status 503');
      expect(bodies).toHaveLength(3);
    });

    it('does not retry by default, nor on statuses a retry cannot fix', async () => {
      handler = statuses([503]);
      expect((await send(`${base}/`, { timeoutMs: 2_000 })).status).toBe(503);
      handler = statuses([400]);
      expect((await send(`${base}/`, { timeoutMs: 2_000, maxRetries: 3 })).status).toBe(400);
      expect(bodies).toHaveLength(2);
      expect(sleeps).toEqual([]);
    });

    it('retries connection failures, then reports them as network errors', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve)); // nothing listens there now
      await expectCode(send(`http://127.0.0.1:${port}/`, { timeoutMs: 2_000, maxRetries: 2 }), 'network');
      expect(sleeps).toHaveLength(2);
    });
  });

  describe('deadlines and cancellation', () => {
    it('times out when the headers do not arrive in time', async () => {
      handler = hang;
      await expectCode(send(`${base}/`, { timeoutMs: 100, maxRetries: 2 }), 'timeout');
      expect(sleeps).toEqual([]); // a spent deadline is not retried
    });

    it('bounds only the wait for headers, not the reading of the body', async () => {
      handler = (_req, res) => {
        res.writeHead(200);
        res.write('first ');
        setTimeout(() => res.end('second'), 250);
      };
      const response = await send(`${base}/`, { timeoutMs: 100 });
      expect(await response.text()).toBe('first second');
    });

    it('reports the caller aborting as aborted, not as a timeout', async () => {
      handler = hang;
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await expectCode(send(`${base}/`, { timeoutMs: 5_000, signal: controller.signal, maxRetries: 3 }), 'aborted');
      await expectCode(send(`${base}/`, { timeoutMs: 5_000, signal: AbortSignal.abort() }), 'aborted');
    });

    it('stops retrying once the caller aborts', async () => {
      const controller = new AbortController();
      handler = (_req, res) => {
        controller.abort();
        res.writeHead(503).end();
      };
      await expectCode(send(`${base}/`, { timeoutMs: 2_000, signal: controller.signal, maxRetries: 5 }), 'aborted');
      expect(bodies).toHaveLength(1);
    });
  });

  describe('circuit breaker', () => {
    it('counts a logical request once, opens, refuses fast, and closes after a good trial', async () => {
      const breakerClock = new ManualClock();
      const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1_000, clock: breakerClock });
      handler = statuses([500]);
      const call = () => send(`${base}/`, { timeoutMs: 2_000, maxRetries: 1, breaker });
      expect((await call()).status).toBe(500); // two attempts, one failure
      expect(breaker.state).toBe('closed');
      expect((await call()).status).toBe(500);
      expect(breaker.state).toBe('open');
      const sent = bodies.length;
      await expectCode(call(), 'circuit_open');
      expect(bodies.length).toBe(sent); // refused without a request
      breakerClock.advance(1_000);
      expect(breaker.state).toBe('half_open');
      handler = statuses([404]); // a 4xx still proves the upstream is up
      expect((await call()).status).toBe(404);
      expect(breaker.state).toBe('closed');
    });

    it('does not count a caller abort against the upstream', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000, clock: new ManualClock() });
      handler = hang;
      const call = send(`${base}/`, { timeoutMs: 5_000, signal: AbortSignal.timeout(50), breaker });
      await expectCode(call, 'aborted');
      expect(breaker.state).toBe('closed');
      await expectCode(send(`${base}/`, { timeoutMs: 50, breaker }), 'timeout');
      expect(breaker.state).toBe('open');
    });
  });
});

describe('readTextLimited', () => {
  it('reads a body within the limit, multi-byte characters split across chunks intact', async () => {
    handler = (_req, res) => {
      const bytes = Buffer.from('héllo wörld');
      res.writeHead(200);
      res.write(bytes.subarray(0, 2)); // splits the é
      res.end(bytes.subarray(2));
    };
    expect(await readTextLimited(await http.fetch(`${base}/`, { timeoutMs: 2_000 }), 13)).toBe('héllo wörld');
  });

  it('stops with too_large when a chunked body passes the limit', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      for (let i = 0; i < 10; i++) res.write('x'.repeat(1_000));
      res.end();
    };
    await expectCode(readTextLimited(await http.fetch(`${base}/`, { timeoutMs: 2_000 }), 4_096), 'too_large');
  });

  it('refuses a declared Content-Length over the limit before reading', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('y'.repeat(5_000));
    await expectCode(readTextLimited(await http.fetch(`${base}/`, { timeoutMs: 2_000 }), 1_000), 'too_large');
  });
});
