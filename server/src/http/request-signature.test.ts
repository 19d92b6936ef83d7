/** Signed requests end to end: the SDK signs, the server verifies through the real app. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../test/harness.js';
import { ManualClock } from '../platform/clock.js';
import { signRequest } from '../sdk/sign.js';
import { verifyRequestSignature } from './request-signature.js';

const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
let secrets = ['whsec_old_0123456789abcdef'];
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp({
    clock,
    routes: (app) => {
      app.post('/api/v1/probe/hook', async (request) => {
        await verifyRequestSignature({ method: request.method, url: request.url, body: request.rawBody ?? '', header: request.headers['bastion-signature'] as string | undefined }, secrets, t.store, clock);
        return { accepted: true };
      });
    },
  });
});
afterAll(async () => {
  await t.close();
});

function send(url: string, body: string, signature: string | undefined) {
  return t.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json', ...(signature ? { 'bastion-signature': signature } : {}) } });
}

describe('signed requests', () => {
  it('accepts a fresh signature once, whatever the query order', async () => {
    const body = JSON.stringify({ event: 'run', input: 'hello' });
    const signature = signRequest(secrets[0]!, { method: 'POST', url: '/api/v1/probe/hook?b=2&a=1', body }, clock.now());
    expect((await send('/api/v1/probe/hook?a=1&b=2', body, signature)).json()).toEqual({ accepted: true });
    const replay = await send('/api/v1/probe/hook?a=1&b=2', body, signature);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.message).toMatch(/already used/);
  });

  it('refuses altered bodies, paths, queries and methods', async () => {
    const body = JSON.stringify({ amount: 10 });
    const sign = () => signRequest(secrets[0]!, { method: 'POST', url: '/api/v1/probe/hook?x=1', body }, clock.now());
    expect((await send('/api/v1/probe/hook?x=1', JSON.stringify({ amount: 1000 }), sign())).statusCode).toBe(401);
    expect((await send('/api/v1/probe/hook?x=2', body, sign())).statusCode).toBe(401);
    expect((await send('/api/v1/probe/hook', body, sign())).statusCode).toBe(401);
    expect((await send('/api/v1/probe/hook?x=1', body, signRequest(secrets[0]!, { method: 'PUT', url: '/api/v1/probe/hook?x=1', body }, clock.now()))).statusCode).toBe(401);
    expect((await send('/api/v1/probe/hook?x=1', body, sign())).statusCode).toBe(200);
  });

  it('refuses stale or future timestamps beyond 5 minutes, wrong secrets and malformed headers', async () => {
    const body = '{}';
    const at = (offsetMs: number) => signRequest(secrets[0]!, { method: 'POST', url: '/api/v1/probe/hook', body }, new Date(clock.now().getTime() + offsetMs));
    expect((await send('/api/v1/probe/hook', body, at(-301_000))).json().error.message).toMatch(/5-minute/);
    expect((await send('/api/v1/probe/hook', body, at(301_000))).statusCode).toBe(401);
    expect((await send('/api/v1/probe/hook', body, at(-200_000))).statusCode).toBe(200);
    expect((await send('/api/v1/probe/hook', body, signRequest('not-the-secret', { method: 'POST', url: '/api/v1/probe/hook', body }, clock.now()))).statusCode).toBe(401);
    for (const header of [undefined, 'garbage', 't=abc, v1=00', `t=${Math.floor(clock.now().getTime() / 1000)}`, `v1=${'a'.repeat(64)}`]) {
      const response = await send('/api/v1/probe/hook', body, header);
      expect(response.statusCode, String(header)).toBe(401);
      expect(response.json().error.code).toBe('unauthenticated');
    }
  });

  it('accepts both secrets during a rotation overlap, then only the new one', async () => {
    const body = '{"n":1}';
    secrets = ['whsec_new_fedcba9876543210', 'whsec_old_0123456789abcdef'];
    clock.advance(1_000);
    expect((await send('/api/v1/probe/hook', body, signRequest('whsec_old_0123456789abcdef', { method: 'POST', url: '/api/v1/probe/hook', body }, clock.now()))).statusCode).toBe(200);
    clock.advance(1_000);
    expect((await send('/api/v1/probe/hook', body, signRequest('whsec_new_fedcba9876543210', { method: 'POST', url: '/api/v1/probe/hook', body }, clock.now()))).statusCode).toBe(200);
    secrets = ['whsec_new_fedcba9876543210'];
    clock.advance(1_000);
    expect((await send('/api/v1/probe/hook', body, signRequest('whsec_old_0123456789abcdef', { method: 'POST', url: '/api/v1/probe/hook', body }, clock.now()))).statusCode).toBe(401);
  });
});
