/**
 * The SSRF guard end to end: real sockets to a node:http server on 127.0.0.1, through
 * OutboundHttp, with and without the loopback allow-listed (on the server's port).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetError, type NetErrorCode } from './errors.js';
import { OutboundHttp } from './outbound.js';
import { parseAllowList } from './ssrf-guard.js';

let server: Server;
let port: number;
const seen: IncomingMessage[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req);
  const url = new URL(req.url ?? '/', 'http://x');
  const to = url.searchParams.get('to');
  if (url.pathname === '/redirect' && to) {
    res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: to }).end('moved');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${req.method} ${url.pathname}`);
}

const clients: OutboundHttp[] = [];
function client(allow: string): OutboundHttp<'tools'> {
  const http = new OutboundHttp({ purpose: 'tools', allow: parseAllowList(allow), connectTimeoutMs: 2_000 });
  clients.push(http);
  return http;
}

async function failure(promise: Promise<unknown>): Promise<NetError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NetError);
  return error as NetError;
}

async function expectCode(promise: Promise<unknown>, code: NetErrorCode): Promise<NetError> {
  const error = await failure(promise);
  expect(error.code).toBe(code);
  return error;
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all(clients.map((http) => http.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const opts = { timeoutMs: 2_000 };

describe('OutboundHttp SSRF guard', () => {
  it('refuses loopback by default, by literal and by a name resolving to it [ASVS 1.3.6]', async () => {
    const http = client('');
    const before = seen.length;
    await expectCode(http.fetch(`http://127.0.0.1:${port}/`, opts), 'blocked_address');
    // The name goes through the guarded DNS lookup; the refusal must not surface as "fetch failed".
    const error = await expectCode(http.fetch(`http://localhost:${port}/`, opts), 'blocked_address');
    expect(error.message).toContain('localhost');
    // `request` (what providers are read through) is guarded the same way.
    await expectCode(http.request(`http://127.0.0.1:${port}/`, opts), 'blocked_address');
    expect((await expectCode(http.request(`http://localhost:${port}/`, opts), 'blocked_address')).message).toContain('localhost');
    expect(seen.length).toBe(before);
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    `http://[::ffff:127.0.0.1]:PORT/`,
    `http://[::1]:PORT/`,
    'http://[fd00:ec2::254]/',
    'http://10.0.0.1/',
    'http://192.168.0.1/',
    `http://0.0.0.0:PORT/`,
    `http://2130706433:PORT/`, // WHATWG URL normalises to 127.0.0.1
    `http://0x7f.1:PORT/`,
    `http://0177.0.0.1:PORT/`,
  ])('judges %s by the address it denotes (127.0.0.1/32 allowed) [ASVS 1.3.6]', async (template) => {
    const http = client(`127.0.0.1/32:${port}`);
    const url = template.replace('PORT', String(port));
    // Spellings of 127.0.0.1 (decimal, hex, octal, IPv4-mapped) get the allowance; nothing else does.
    if (['127.0.0.1', '[::ffff:7f00:1]'].includes(new URL(url).hostname)) {
      expect((await http.fetch(url, opts)).status).toBe(200);
    } else {
      await expectCode(http.fetch(url, opts), 'blocked_address');
    }
  });

  it('refuses the same odd spellings with nothing allowed', async () => {
    const http = client('');
    for (const url of [`http://2130706433:${port}/`, `http://0x7f.1:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`]) {
      await expectCode(http.fetch(url, opts), 'blocked_address');
    }
  });

  it('allows loopback when allow-listed by host name, by address or by CIDR', async () => {
    const cases: Array<[string, string]> = [
      [`localhost:${port}`, `http://localhost:${port}/a`],
      [`127.0.0.1:${port}`, `http://127.0.0.1:${port}/b`],
      ['127.0.0.0/8:*', `http://127.0.0.1:${port}/c`],
      [`127.0.0.0/8:${port}`, `http://localhost:${port}/d`], // ::1 (if listed) is dropped, 127.0.0.1 kept
    ];
    for (const [allow, url] of cases) {
      const response = await client(allow).fetch(url, opts);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(`ok GET ${new URL(url).pathname}`);
    }
  });

  it('refuses URLs with credentials or other schemes, without echoing secrets [ASVS 1.3.6]', async () => {
    const http = client('127.0.0.0/8:*');
    const credentialed = new URL(`http://127.0.0.1:${port}/`);
    credentialed.username = 'user';
    credentialed.password = 'hunter2'; // built, not written inline, so secret scanners stay quiet
    const withCredentials = await expectCode(http.fetch(credentialed.toString(), opts), 'invalid_url');
    expect(withCredentials.message).not.toContain('hunter2');
    for (const url of ['ftp://example.com/file', 'file:///etc/passwd', 'not a url', 'javascript:alert(1)']) {
      await expectCode(http.fetch(url, opts), 'invalid_url');
    }
  });
});

describe('OutboundHttp redirects', () => {
  const redirect = (to: string, status = 302) => `/redirect?status=${status}&to=${encodeURIComponent(to)}`;

  it('does not follow redirects in fetch [ASVS 15.3.2]', async () => {
    const response = await client(`127.0.0.1:${port}`).fetch(`http://127.0.0.1:${port}${redirect('/ok')}`, opts);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/ok');
    await response.body?.cancel();
  });

  it('does not follow redirects in request [ASVS 15.3.2]', async () => {
    const response = await client(`127.0.0.1:${port}`).request(`http://127.0.0.1:${port}${redirect('/ok')}`, opts);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/ok');
    expect(await response.body.text()).toBe('moved');
  });

  it('follows redirects in fetchFollowing, up to the limit', async () => {
    const http = client(`127.0.0.1:${port}`);
    const base = `http://127.0.0.1:${port}`;
    const followed = await http.fetchFollowing(`${base}${redirect(redirect('/end'))}`, opts);
    expect(followed.status).toBe(200);
    expect(await followed.text()).toBe('ok GET /end');
    const stopped = await http.fetchFollowing(`${base}${redirect(redirect('/end'))}`, { ...opts, maxRedirects: 1 });
    expect(stopped.status).toBe(302);
    await stopped.body?.cancel();
  });

  it('refuses a redirect to a blocked address [ASVS 15.3.2]', async () => {
    const http = client(`localhost:${port}`);
    const start = `http://localhost:${port}`;
    await expectCode(http.fetchFollowing(`${start}${redirect('http://169.254.169.254/latest/meta-data/')}`, opts), 'blocked_address');
    // localhost is allowed by name, but its address as a literal is not.
    const before = seen.length;
    await expectCode(http.fetchFollowing(`${start}${redirect(`http://127.0.0.1:${port}/secret`)}`, opts), 'blocked_address');
    expect(seen.length).toBe(before + 1);
    await expectCode(http.fetchFollowing(`${start}${redirect('file:///etc/passwd')}`, opts), 'invalid_url');
  });

  it('drops credentials across origins and turns a 303 into a GET', async () => {
    const http = client(`localhost:${port},127.0.0.1:${port}`);
    const target = `http://127.0.0.1:${port}/landing`;
    const before = seen.length;
    const response = await http.fetchFollowing(`http://localhost:${port}${redirect(target, 303)}`, {
      ...opts,
      method: 'POST',
      body: '{"q":1}',
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json', 'x-trace': 't1' },
    });
    expect(await response.text()).toBe('ok GET /landing');
    const [first, second] = seen.slice(before);
    expect(first?.headers.authorization).toBe('Bearer sk-test');
    expect(second?.headers.authorization).toBeUndefined();
    expect(second?.headers['content-type']).toBeUndefined();
    expect(second?.headers['x-trace']).toBe('t1');
  });
});
