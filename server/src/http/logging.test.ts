/** Request ids and log redaction, read back from the app's real log output. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, LogCapture, type TestApp } from '../../test/harness.js';
import { redactFields, redactUrl } from '../platform/log.js';

const logs = new LogCapture();
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({
    logs,
    routes: (app) => {
      app.post('/api/v1/probe/login', async (request) => {
        request.log.info({ body: request.body, headers: request.headers }, 'probe received');
        return { ok: true };
      });
      app.get('/api/v1/probe/read', async () => ({ ok: true }));
      // Shaped as the health probes are: quiet when it succeeds.
      app.get('/api/v1/probe/quiet', { config: { accessLog: 'debug' } }, async (request, reply) => reply.status((request.query as { fail?: string }).fail ? 503 : 200).send({ ok: true }));
    },
  });
});
afterAll(async () => {
  await t.close();
});

describe('request ids', () => {
  it('echoes a well-formed X-Request-Id and logs it', async () => {
    const response = await t.app.inject({ url: '/api/v1/probe/read', headers: { 'x-request-id': 'edge-1234.abc:5' } });
    expect(response.headers['x-request-id']).toBe('edge-1234.abc:5');
    const records = logs.records().filter((r) => r.requestId === 'edge-1234.abc:5');
    expect(records.length).toBeGreaterThanOrEqual(1);
  });

  it('writes one access line per request at info: method, redacted URL, status, time [ASVS 16.2.1]', async () => {
    await t.app.inject({ url: '/api/v1/probe/read?token=sekret-access-1', headers: { 'x-request-id': 'access-line-1' } });
    const lines = logs.records().filter((r) => r.requestId === 'access-line-1' && r.level === 30);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET', url: '/api/v1/probe/read?token=[REDACTED]' }, res: { statusCode: 200 }, responseTime: expect.any(Number) });
  });

  it('keeps successful health probes out of the info log, and logs a failing probe there', async () => {
    for (const url of ['/healthz', '/readyz', '/api/v1/healthz', '/api/v1/readyz', '/api/v1/probe/quiet']) {
      const id = `probe-${url.replaceAll('/', '-')}`;
      expect((await t.app.inject({ url, headers: { 'x-request-id': id } })).statusCode, url).toBe(200);
      expect(
        logs.records().filter((r) => r.requestId === id && r.level === 30),
        url,
      ).toEqual([]);
    }
    await t.app.inject({ url: '/api/v1/probe/quiet?fail=1', headers: { 'x-request-id': 'probe-failed' } });
    expect(logs.records().filter((r) => r.requestId === 'probe-failed' && r.level === 30)).toMatchObject([{ msg: 'request completed', res: { statusCode: 503 } }]);

    // At LOG_LEVEL=debug the probes' lines are there.
    const debugLogs = new LogCapture();
    const debug = await buildTestApp({ logs: debugLogs, env: { LOG_LEVEL: 'debug' } });
    try {
      await debug.app.inject({ url: '/healthz', headers: { 'x-request-id': 'probe-debug' } });
      expect(debugLogs.records().filter((r) => r.requestId === 'probe-debug' && r.msg === 'request completed')).toMatchObject([{ level: 20, res: { statusCode: 200 } }]);
    } finally {
      await debug.close();
    }
  });

  it('replaces a malformed X-Request-Id with a fresh id [ASVS 16.4.1]', async () => {
    for (const hostile of ['a'.repeat(200), 'bad id with spaces', '<script>', 'x\u00e9']) {
      const response = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': hostile } });
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it('generates distinct ids when none is sent', async () => {
    const [a, b] = await Promise.all([t.app.inject({ url: '/healthz' }), t.app.inject({ url: '/healthz' })]);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });
});

describe('log redaction', () => {
  it('never writes credentials to the logs [ASVS 16.2.5]', async () => {
    const secrets = ['Bearer-sekret-token-1', 'session=cookie-sekret-2', 'hunter2-sekret-3', 'bst_sekret_4', 'sekret-query-5', 'totp-sekret-6'];
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/probe/login?token=${secrets[4]}&page=2`,
      headers: { cookie: secrets[1]!, 'content-type': 'application/json' },
      payload: { email: 'a@example.com', password: secrets[2], apiKey: secrets[3], nested: { secret: secrets[5] } },
    });
    // A credential the server refuses is not logged either.
    await t.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${secrets[0]}` } });
    expect(logs.text).toContain('probe received');
    expect(logs.text).toContain('a@example.com');
    expect(logs.text).toContain('page=2');
    for (const secret of secrets) expect(logs.text).not.toContain(secret);
    expect(logs.text).toContain('[REDACTED]');
  });

  it('replaces sensitive fields at the first three levels without touching the logged object', () => {
    const line = { user: 'a@example.com', password: 'p1', body: { apiKey: 'k1', nested: { secret: 's1', deeper: { token: 'kept: below the third level' } } }, list: [{ token: 't1' }] };
    const redacted = redactFields(line);
    expect(redacted).toEqual({ user: 'a@example.com', password: '[REDACTED]', body: { apiKey: '[REDACTED]', nested: { secret: '[REDACTED]', deeper: { token: 'kept: below the third level' } } }, list: [{ token: '[REDACTED]' }] });
    expect(line.password).toBe('p1'); // the caller's object is unchanged
    expect(line.body.nested.secret).toBe('s1');
    const plain = { req: { method: 'GET' }, res: { statusCode: 200 }, responseTime: 1.2 };
    expect(redactFields(plain)).toBe(plain); // nothing to hide: no copy

    const error = Object.assign(new Error('refused'), { token: 't2', code: 'E_REFUSED' });
    const redactedError = redactFields({ err: error }).err;
    expect(redactedError).toBeInstanceOf(Error);
    expect(redactedError).toMatchObject({ message: 'refused', token: '[REDACTED]', code: 'E_REFUSED' });
    expect(error.token).toBe('t2');
  });

  it('masks sensitive query parameters in URLs [ASVS 14.2.1, 16.2.5]', () => {
    expect(redactUrl('/cb?code=abc&state=xyz&next=%2Fhome')).toBe('/cb?code=[REDACTED]&state=[REDACTED]&next=%2Fhome');
    expect(redactUrl('/x?access_token=1&API_KEY=2')).toBe('/x?access_token=[REDACTED]&API_KEY=[REDACTED]');
    expect(redactUrl('/plain')).toBe('/plain');
  });
});
