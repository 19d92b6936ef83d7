/**
 * Parallel requests for race tests: N requests released at once, each on its own TCP
 * connection to the app listening on loopback, so checks and writes of different
 * requests really interleave (a loop of awaits would serialise them and hide a race).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../src/http/app-type.js';

export interface BurstRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path with query, e.g. `/api/v1/auth/login`. */
  url: string;
  headers?: Record<string, string>;
  /** Sent as JSON (content-type set) unless a string. */
  body?: unknown;
}

export interface BurstResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs `task(i)` for i in 0..count-1, all started in the same tick after a shared gate opens. */
export async function release<T>(count: number, task: (index: number) => Promise<T>): Promise<T[]> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const runs = Array.from({ length: count }, (_, index) => gate.then(() => task(index)));
  open();
  return Promise.all(runs);
}

/** The app's loopback origin, listening on a free port if it is not yet. */
export async function listening(app: App): Promise<string> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/**
 * Sends `requests` at once over real HTTP, one connection each: the sockets are opened
 * (and the connections accepted) first, then every request is written in the same tick.
 */
export async function burst(app: App, requests: BurstRequest[]): Promise<BurstResponse[]> {
  const origin = new URL(await listening(app));
  const agent = new http.Agent({ keepAlive: true, maxSockets: requests.length });
  try {
    // Warm one socket per request so the burst does not wait on connection set-up.
    await release(requests.length, () => send(agent, origin, { method: 'GET', url: '/healthz' }));
    return await release(requests.length, (index) => send(agent, origin, requests[index]!));
  } finally {
    agent.destroy();
  }
}

function send(agent: http.Agent, origin: URL, request: BurstRequest): Promise<BurstResponse> {
  const payload = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  const headers: Record<string, string> = { ...(payload !== undefined && typeof request.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...request.headers };
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ agent, host: origin.hostname, port: origin.port, method: request.method, path: request.url, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body, json: <T>() => JSON.parse(body) as T });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}
