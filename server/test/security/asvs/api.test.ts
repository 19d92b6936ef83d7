/**
 * ASVS 5.0 V14.2.1: credentials never travel in URLs. Bastion takes API keys and access
 * tokens from the Authorization header only, so a key in a query string (where access
 * logs, proxies and Referer headers would keep it) authenticates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUser } from '../../api-client.js';
import { buildTestApp, type TestApp } from '../../harness.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { REQUIRE_MFA: 'none' } });
});
afterAll(async () => {
  await t.close();
});

describe('credentials in URLs', () => {
  it('refuses an API key or access token sent in the query string, and takes them in the header [ASVS 14.2.1]', async () => {
    const client = await apiUser(t);
    expect((await t.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${client.key}` } })).statusCode).toBe(200);
    const token = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { authorization: `Bearer ${client.key}`, 'content-type': 'application/json' }, payload: JSON.stringify({ grantType: 'api_key' }) });
    expect(token.statusCode, token.body).toBe(200);
    const credentials = [client.key, token.json().accessToken as string];
    for (const credential of credentials) {
      for (const name of ['access_token', 'api_key', 'apiKey', 'key', 'token', 'authorization']) {
        const response = await t.app.inject({ url: `/api/v1/me?${name}=${encodeURIComponent(credential)}` });
        expect([400, 401], `${name}: ${response.statusCode}`).toContain(response.statusCode);
        expect(response.body).not.toContain(client.email);
      }
    }
  });
});
