/**
 * The answers given outside the request lifecycle, over real sockets: Fastify's routing
 * errors, Node's parser refusals and the 503 while draining are all in the error envelope,
 * carry the API security headers and a request id, and echo nothing of the request.
 */
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../test/harness.js';
import { buildHeaderSets } from './security-headers.js';

const MARKER = 'zqxmarker7';

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

function parse(raw: string): RawAnswer {
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, split).split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(split + 4) };
}

/** Sends bytes on a new connection and collects everything until the server closes it. */
function exchange(port: number, text: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve(parse(data)));
    socket.on('error', (error) => (data ? undefined : reject(error)));
  });
}

function get(port: number, path: string): Promise<RawAnswer> {
  return exchange(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
}

/** Status, stable code, envelope, the onSend hook's API header set, and no echo of the input. */
function expectEnvelope(t: TestApp, answer: RawAnswer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = JSON.parse(answer.body) as { error: { code: string; message: string; requestId: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
  expect(body.error.requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  expect(answer.headers.get('x-request-id')).toBe(body.error.requestId);
  const sets = buildHeaderSets({ publicUrl: t.config.PUBLIC_URL, hstsPreload: t.config.HSTS_PRELOAD, webRoot: null });
  for (const [name, value] of sets.api) expect(answer.headers.get(name), name).toBe(value);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(answer.body).not.toContain(MARKER);
  expect([...answer.headers.values()].join('\n')).not.toContain(MARKER);
}

let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await buildTestApp({ env: { HTTP_MAX_HEADER_BYTES: '8192', HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1000' } });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await t.close();
});

describe('routing errors (frameworkErrors)', () => {
  it('answers a 201-character path parameter with 414 uri_too_long', async () => {
    const param = `${MARKER}${'a'.repeat(201 - MARKER.length)}`;
    expectEnvelope(t, await get(port, `/api/v1/agents/${param}`), 414, 'uri_too_long');
  });

  it('answers a path parameter that does not decode with 400 bad_request', async () => {
    expectEnvelope(t, await get(port, `/api/v1/agents/${MARKER}%E0%A4%A`), 400, 'bad_request');
  });

  it('answers an unknown route with 404 not_found, naming neither method nor path [ASVS 16.5.1]', async () => {
    expectEnvelope(t, await get(port, `/api/v1/${MARKER}`), 404, 'not_found');
  });
});

describe("Node's client errors (clientErrorHandler)", () => {
  it('answers oversized headers with 431 headers_too_large', async () => {
    const answer = await exchange(port, `GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${MARKER}${'a'.repeat(10_000)}\r\n\r\n`);
    expectEnvelope(t, answer, 431, 'headers_too_large');
    expect(answer.headers.get('connection')).toBe('close');
  });

  it('answers a malformed request line with 400 bad_request', async () => {
    const answer = await exchange(port, `GET /${MARKER} HTTQ/1.1\r\nHost: x\r\n\r\n`);
    expectEnvelope(t, answer, 400, 'bad_request');
    expect(answer.headers.get('connection')).toBe('close');
  });

  it('answers headers that never finish with 408 request_timeout', async () => {
    const answer = await exchange(port, `GET /${MARKER} HTTP/1.1\r\nHost: x\r\n`);
    expectEnvelope(t, answer, 408, 'request_timeout');
  });
});

describe("Node's expectation check (checkExpectation)", () => {
  it('answers an Expect it cannot meet with 417 expectation_failed', async () => {
    const answer = await exchange(port, `GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nExpect: ${MARKER}\r\nConnection: close\r\n\r\n`);
    expectEnvelope(t, answer, 417, 'expectation_failed');
  });
});

describe('while draining', () => {
  it('answers a request that arrives while the app closes with 503 service_unavailable and Retry-After', async () => {
    const drained = await buildTestApp();
    await drained.app.listen({ host: '127.0.0.1', port: 0 });
    const drainedPort = (drained.app.server.address() as net.AddressInfo).port;
    // A connection in the middle of its request head is busy, so close() leaves it open.
    const socket = net.connect(drainedPort, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`GET /api/v1/${MARKER} HTTP/1.1\r\nHost: x\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = drained.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('\r\n');
    await ended;
    await closed;
    const answer = parse(data);
    expectEnvelope(drained, answer, 503, 'service_unavailable');
    expect(JSON.parse(answer.body).error.message).toMatch(/shutting down/);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(answer.headers.get('connection')).toBe('close');
  });

  it('ends the keep-alive connection of a stream that started before the close, so close() waits for the stream only', async () => {
    // A streamed answer sends its headers (keep-alive) before the close starts; once it ends,
    // its idle socket would hold close() open until the keep-alive timeout (72 s).
    const drained = await buildTestApp({
      routes: (app) => {
        app.get('/api/v1/probe/stream', async (_request, reply) => {
          const stream = new PassThrough();
          stream.write('data: first\n\n');
          setTimeout(() => stream.end('data: last\n\n'), 400);
          return reply.header('content-type', 'text/event-stream').send(stream);
        });
      },
    });
    await drained.app.listen({ host: '127.0.0.1', port: 0 });
    const drainedPort = (drained.app.server.address() as net.AddressInfo).port;
    const socket = net.connect(drainedPort, '127.0.0.1');
    let data = '';
    const first = new Promise<void>((resolve) => socket.on('data', (chunk) => ((data += chunk.toString()), data.includes('first') && resolve())));
    const socketClosed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
    socket.write('GET /api/v1/probe/stream HTTP/1.1\r\nHost: x\r\n\r\n'); // keep-alive
    await first;
    expect(data).toMatch(/connection: keep-alive/i);
    const started = performance.now();
    const closed = await Promise.race([drained.close().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 3_000))]);
    if (!closed) socket.destroy(); // lets the close finish before the test fails
    expect(closed, 'close() still waiting 3 s after the stream ended').toBe(true);
    const closedAfter = performance.now() - started;
    const socketClosedAfter = (await socketClosed) - started;
    expect(data).toContain('data: last'); // the stream was finished, not cut
    expect(closedAfter).toBeGreaterThanOrEqual(300);
    expect(closedAfter).toBeLessThan(2_000);
    expect(socketClosedAfter).toBeLessThan(2_000);
  });
});
