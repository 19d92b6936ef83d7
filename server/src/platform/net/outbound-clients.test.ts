/**
 * Allowances per purpose and per host:port, on real sockets: a node:http server on
 * 127.0.0.1 allowed for one purpose only, a second open port and a closed one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, variables, type Env } from '../../config/index.js';
import { NetError } from './errors.js';
import type { OutboundHttp } from './outbound.js';
import { createOutboundClients, type OutboundClients } from './outbound-clients.js';
import { ALLOW_SETTINGS, OUTBOUND_PURPOSES } from './purposes.js';

let allowed: Server;
let other: Server;
let allowedPort: number;
let otherPort: number;
let closedPort: number;
/** Connections the servers accepted: a refusal must not open one. */
const connections = { allowed: 0, other: 0 };
const warnings: string[] = [];
const built: OutboundClients[] = [];

async function listen(name: keyof typeof connections): Promise<Server> {
  const server = createServer((req, res) => {
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
    if (to) res.writeHead(302, { location: to }).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${name}`);
  });
  server.on('connection', () => connections[name]++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function clients(env: Env): OutboundClients {
  const made = createOutboundClients(loadConfig({ NODE_ENV: 'test', ...env }), { warn: (message: string) => void warnings.push(message) }, 2_000);
  built.push(made);
  return made;
}

async function refusal(promise: Promise<unknown>): Promise<NetError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NetError);
  expect((error as NetError).code).toBe('blocked_address');
  return error as NetError;
}

const opts = { timeoutMs: 2_000 };

beforeAll(async () => {
  allowed = await listen('allowed');
  other = await listen('other');
  allowedPort = (allowed.address() as AddressInfo).port;
  otherPort = (other.address() as AddressInfo).port;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  await Promise.all(built.map((made) => made.close()));
  for (const server of [allowed, other]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('outbound allowances per purpose', () => {
  it('names a configuration variable for every purpose', () => {
    for (const purpose of OUTBOUND_PURPOSES) expect(Object.keys(variables)).toContain(ALLOW_SETTINGS[purpose]);
  });

  it.each(OUTBOUND_PURPOSES)('allows 127.0.0.1:port for %s only when only that purpose lists it [ASVS 13.2.4]', async (purpose) => {
    const made = clients({ [ALLOW_SETTINGS[purpose]]: `127.0.0.1:${allowedPort}` });
    const response = await made[purpose].fetch(`http://127.0.0.1:${allowedPort}/`, opts);
    expect(await response.text()).toBe('ok allowed');
    const before = connections.allowed;
    for (const refused of OUTBOUND_PURPOSES.filter((p) => p !== purpose)) {
      const client: OutboundHttp = made[refused];
      for (const host of ['127.0.0.1', 'localhost']) {
        const error = await refusal(client.fetch(`http://${host}:${allowedPort}/`, opts));
        expect(error.message).toBe(`${host}:${allowedPort} is or resolves to a private, loopback or link-local address, which the network policy does not allow. To allow it, add ${host}:${allowedPort} to ${ALLOW_SETTINGS[refused]}.`);
      }
    }
    expect(connections.allowed).toBe(before);
  });

  it('matches host and port: localhost:<port> allows neither another port nor the address literal [ASVS 13.2.4]', async () => {
    const { tools } = clients({ OUTBOUND_ALLOW_PRIVATE_TOOLS: `localhost:${allowedPort}` });
    expect((await tools.fetch(`http://localhost:${allowedPort}/`, opts)).status).toBe(200);
    const before = connections.other;
    await refusal(tools.fetch(`http://localhost:${otherPort}/`, opts));
    await refusal(tools.fetch(`http://127.0.0.1:${allowedPort}/`, opts));
    // A redirect from the allowed port to another one is refused too.
    const redirected = await refusal(tools.fetchFollowing(`http://localhost:${allowedPort}/?to=${encodeURIComponent(`http://localhost:${otherPort}/`)}`, opts));
    expect(redirected.message).toContain(`add localhost:${otherPort} to OUTBOUND_ALLOW_PRIVATE_TOOLS.`);
    expect(connections.other).toBe(before);
    // `*` is the explicit way to allow every port.
    const { tools: wide } = clients({ OUTBOUND_ALLOW_PRIVATE_TOOLS: 'localhost:*' });
    expect((await wide.fetch(`http://localhost:${otherPort}/`, opts)).status).toBe(200);
  });

  it('answers the same for an open port, a closed port and well-known service ports, without connecting', async () => {
    const { tools } = clients({ OUTBOUND_ALLOW_PRIVATE_TOOLS: `127.0.0.1:${allowedPort}` });
    const before = connections.other;
    for (const host of ['127.0.0.1', 'localhost']) {
      const answers: string[] = [];
      for (const port of [otherPort, closedPort, 6379, 5432]) {
        const error = await refusal(tools.fetch(`http://${host}:${port}/`, opts));
        answers.push(`${error.code} ${error.message.replaceAll(String(port), '<port>')}`);
      }
      expect(new Set(answers).size, answers.join('\n')).toBe(1);
    }
    expect(connections.other).toBe(before);
  });

  it('treats the deprecated OUTBOUND_ALLOW_PRIVATE as a providers allowance (every port) and warns', async () => {
    warnings.length = 0;
    const made = clients({ OUTBOUND_ALLOW_PRIVATE: '127.0.0.1' });
    expect((await made.providers.fetch(`http://127.0.0.1:${allowedPort}/`, opts)).status).toBe(200);
    expect((await made.providers.fetch(`http://127.0.0.1:${otherPort}/`, opts)).status).toBe(200);
    for (const purpose of OUTBOUND_PURPOSES.filter((p) => p !== 'providers')) {
      await refusal((made[purpose] as OutboundHttp).fetch(`http://127.0.0.1:${allowedPort}/`, opts));
    }
    expect(warnings).toEqual([expect.stringContaining('OUTBOUND_ALLOW_PRIVATE is deprecated')]);
    clients({ OUTBOUND_ALLOW_PRIVATE_PROVIDERS: `127.0.0.1:${allowedPort}` });
    expect(warnings).toHaveLength(1);
  });

  it('gives each module only its purpose’s client (checked by the compiler)', () => {
    const made = clients({});
    // @ts-expect-error a providers client is not a tools client
    const wrong: OutboundHttp<'tools'> = made.providers;
    const right: OutboundHttp<'tools'> = made.tools;
    expect(wrong.purpose).toBe('providers');
    expect(right.purpose).toBe('tools');
  });
});
