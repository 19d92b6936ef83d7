/**
 * REQUIRE_MFA on every route: an administrator who has not enrolled TOTP reaches only the
 * gate's exemptions, by cookie, API key or access token — the key and the token made
 * before the rule applied to the account. The walk covers every operation of the OpenAPI
 * document, so a new route is gated unless it is added to MFA_EXEMPT on purpose.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { SCOPES } from '../../principal.js';
import { ApiKeyService } from '../api-keys/service.js';
import { MFA_EXEMPT } from './mfa-gate.js';
import { totpAt } from './totp.js';

// Every request of the walk would otherwise spend the write budget long before the end.
const fixture = useAccountsApp({ REQUIRE_MFA: 'admins', RATE_LIMIT_SCALE: '100' });
const { clock } = fixture;
let n = 0;
const email = () => `gate${++n}@example.org`;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
interface Operation {
  method: Method;
  pattern: string;
  url: string;
  isPublic: boolean;
}

async function operations(): Promise<Operation[]> {
  const document = (await fixture.t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as {
    paths: Record<string, Record<string, { security?: unknown[] }>>;
  };
  const found: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    if (!path.startsWith('/api/v1/')) continue; // probes and the web app: no caller
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      found.push({
        method: method.toUpperCase() as Method,
        pattern: path.replace(/\{(\w+)\}/g, ':$1'),
        url: path.replace(/\{\w+\}/g, () => randomUUID()),
        isPublic: Array.isArray(operation.security) && operation.security.length === 0,
      });
    }
  }
  return found;
}

/** A member with an API key and an access token, then made administrator: all three predate the rule for this account. */
async function promotedAdmin() {
  const address = email();
  const userId = await createUser(fixture.t.database, { email: address, role: 'member' });
  const { key } = await new ApiKeyService(fixture.t.database.db, clock, fixture.t.store).create(userId, { name: 'ci', scopes: [...SCOPES] });
  const exchange = await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: { grantType: 'api_key' } });
  expect(exchange.statusCode).toBe(200);
  const accessToken = exchange.json().accessToken as string;
  const browser = new BrowserClient(fixture.t.app);
  expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
  await fixture.t.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', userId).execute();
  // No route changes a role: this direct write forgets the cached gate state as a change through the service would.
  await fixture.t.app.accounts.users.forgetGateState(userId);
  return { address, userId, key, accessToken, browser };
}

describe('the MFA gate', () => {
  it('refuses every route of the OpenAPI document but the declared exemptions, for a cookie, an API key and an access token [ASVS 6.3.3]', async () => {
    const { key, accessToken, browser } = await promotedAdmin();
    expect((await browser.get('/me')).json()).toMatchObject({ mfaEnrollmentRequired: true });
    const all = await operations();
    expect(all.length).toBeGreaterThan(60);
    const reached: string[] = [];
    const refusedAnswers = new Set(['mfa_enrollment_required', 'insufficient_scope']);
    // Sign-out ends the session: walk it last.
    const gated = all.filter((op) => !op.isPublic || op.pattern === '/api/v1/auth/token').sort((a, b) => Number(a.pattern.includes('logout')) - Number(b.pattern.includes('logout')));
    for (const op of gated) {
      const route = `${op.method} ${op.pattern}`;
      const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const credentials: [string, Record<string, string>][] = [
        ['cookie', { cookie, origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin', 'x-csrf-token': browser.csrf ?? '' }],
        ['api key', { authorization: `Bearer ${key}` }],
        ['access token', { authorization: `Bearer ${accessToken}` }],
      ];
      for (const [kind, headers] of credentials) {
        const response = await fixture.t.app.inject({ method: op.method, url: op.url, headers, remoteAddress: browser.ip });
        const code = (response.json() as { error?: { code: string } }).error?.code;
        if (MFA_EXEMPT.has(route)) {
          expect(code, `${kind} ${route}`).not.toBe('mfa_enrollment_required');
          reached.push(route);
        } else {
          expect(response.statusCode, `${kind} ${route}: ${code}`).toBe(403);
          expect(refusedAnswers.has(code!), `${kind} ${route}: ${code}`).toBe(true);
          if (kind === 'cookie') expect(code, `${kind} ${route}`).toBe('mfa_enrollment_required');
        }
      }
    }
    // Every exemption is a real route of the document (a renamed route cannot leave a stale hole).
    for (const exempt of MFA_EXEMPT)
      expect(
        all.some((op) => `${op.method} ${op.pattern}` === exempt),
        exempt,
      ).toBe(true);
    expect(new Set(reached).size).toBeGreaterThanOrEqual(MFA_EXEMPT.size - 1);
  });

  it('opens every route once TOTP is enrolled, and the same key and token then work', async () => {
    const { key, accessToken, browser } = await promotedAdmin();
    expect((await browser.post('/workspaces', { name: 'Before' })).json().error.code).toBe('mfa_enrollment_required');
    const { secret } = (await browser.post('/auth/mfa/totp/setup')).json();
    expect((await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) })).statusCode).toBe(200);
    await browser.loadCsrf();
    expect((await browser.post('/workspaces', { name: 'After' })).statusCode).toBe(201);
    const viaKey = await fixture.t.app.inject({ method: 'POST', url: '/api/v1/agents', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: {} });
    expect(viaKey.json().error?.code).not.toBe('mfa_enrollment_required');
    const viaToken = await fixture.t.app.inject({ method: 'GET', url: '/api/v1/workspaces', headers: { authorization: `Bearer ${accessToken}` } });
    expect(viaToken.statusCode).toBe(200);
  });

  it('leaves members alone under REQUIRE_MFA=admins', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address, role: 'member' });
    const browser = new BrowserClient(fixture.t.app);
    await browser.signIn(address, PASSWORD);
    expect((await browser.post('/workspaces', { name: 'Team' })).statusCode).toBe(201);
  });
});
