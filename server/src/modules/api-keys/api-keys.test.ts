/** Personal API keys: creation, bearer authentication, scopes, expiry, IP ranges, revocation. */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { SCOPES } from '../../principal.js';
import { isWellFormedApiKey } from './key-format.js';
import { API_KEY_CACHE_TTL_MS } from './service.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none' });
const { clock } = fixture;
let n = 0;
const email = () => `keys${++n}@example.org`;

async function signedIn() {
  const address = email();
  await createUser(fixture.t.database, { email: address });
  const browser = new BrowserClient(fixture.t.app);
  await browser.signIn(address, PASSWORD);
  return { address, browser };
}

function bearer(key: string, url = '/api/v1/me', ip = '10.1.2.3', method: 'GET' | 'POST' = 'GET') {
  return fixture.t.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, remoteAddress: ip });
}

describe('API keys', () => {
  it('shows the key once, stores only a hash, and authenticates as the owner', async () => {
    const { address, browser } = await signedIn();
    const created = await browser.post('/api-keys', { name: 'CI script', scopes: ['profile:read'] });
    expect(created.statusCode).toBe(201);
    const { key, hint, id } = created.json();
    expect(isWellFormedApiKey(key)).toBe(true);
    expect(key).toMatch(/^bst_key_[A-Za-z0-9_-]{43}_[0-9a-f]{8}$/);
    expect(key.endsWith(hint.slice(-4))).toBe(true);
    const listed = (await browser.get('/api-keys')).json().apiKeys;
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(key);
    const row = await fixture.t.database.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(key.slice(8, 40));

    const me = await bearer(key);
    expect(me.statusCode).toBe(200);
    expect(me.json().email).toBe(address);
    expect((await browser.get('/api-keys')).json().apiKeys[0].lastUsedIp).toBe('10.1.2.3');
  });

  it('refuses what the key has no scope for, and credential management entirely', async () => {
    const { browser } = await signedIn();
    const { key } = (await browser.post('/api-keys', { name: 'agents only', scopes: ['agents:read'] })).json();
    const me = await bearer(key);
    expect(me.statusCode).toBe(403);
    expect(me.json().error.code).toBe('insufficient_scope');
    const manage = await bearer(key, '/api/v1/api-keys');
    expect(manage.json().error.code).toBe('insufficient_scope');
    const logout = await bearer(key, '/api/v1/auth/logout-all', '10.1.2.3', 'POST');
    expect(logout.statusCode).toBe(403);
  });

  it('refuses malformed, wrong-checksum, revoked, expired and out-of-range keys with one answer', async () => {
    const { browser } = await signedIn();
    const { key, id } = (await browser.post('/api-keys', { name: 'k', scopes: ['profile:read'] })).json();
    const flipped = key.slice(0, 20) + (key[20] === 'A' ? 'B' : 'A') + key.slice(21);
    const refusals = [await bearer(flipped), await bearer(`${key.slice(0, -8)}00000000`), await bearer('bst_key_short'), await bearer('not-a-key')];
    for (const response of refusals) {
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toMatchObject({ code: 'unauthenticated', message: 'Invalid, expired or revoked credentials.' });
    }
    expect((await browser.delete(`/api-keys/${id}`)).statusCode).toBe(200);
    expect((await bearer(key)).statusCode).toBe(401);

    const expiring = (await browser.post('/api-keys', { name: 'short', scopes: ['profile:read'], expiresAt: new Date(clock.now().getTime() + 3_600_000).toISOString() })).json();
    expect((await bearer(expiring.key)).statusCode).toBe(200);
    clock.advance(3_600_001);
    expect((await bearer(expiring.key)).statusCode).toBe(401);

    const { browser: again } = await signedIn(); // the first session went idle while time moved
    const ranged = (await again.post('/api-keys', { name: 'office', scopes: ['profile:read'], allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'] })).json();
    expect((await bearer(ranged.key, '/api/v1/me', '10.200.1.1')).statusCode).toBe(200);
    expect((await bearer(ranged.key, '/api/v1/me', '192.0.2.10')).statusCode).toBe(401);
    expect((await bearer(ranged.key, '/api/v1/me', '2001:db8::7')).statusCode).toBe(200);
  });

  it('refuses a live key whose user is disabled or must reset the password, checked in the same lookup', async () => {
    const { address, browser } = await signedIn();
    const { key } = (await browser.post('/api-keys', { name: 'k', scopes: ['profile:read'] })).json();
    const db = fixture.t.database.db;
    expect((await bearer(key)).statusCode).toBe(200);
    // Set directly (the admin routes also revoke the keys, which drops them from every
    // instance's cache at once): the key itself stays live, and a cached key is read again
    // once its entry expires.
    const change = async (fields: { disabled_at?: Date | null; password_reset_required?: boolean }) => {
      await db.updateTable('users').set(fields).where('email', '=', address).execute();
      clock.advance(API_KEY_CACHE_TTL_MS + 1);
    };
    await change({ disabled_at: clock.now() });
    expect((await bearer(key)).json().error.code).toBe('unauthenticated');
    await change({ disabled_at: null, password_reset_required: true });
    expect((await bearer(key)).statusCode).toBe(401);
    await change({ password_reset_required: false });
    expect((await bearer(key)).statusCode).toBe(200);
  });

  it('validates input and keeps keys private to their owner', async () => {
    const { browser } = await signedIn();
    for (const body of [
      { name: 'x', scopes: ['root:everything'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['profile:read'], allowedCidrs: ['10.0.0.0/99'] },
      { name: 'x', scopes: ['profile:read'], expiresAt: '2000-01-01T00:00:00Z' },
      { name: 'x', scopes: ['profile:read'], owner: 'someone-else' },
    ]) {
      const response = await browser.post('/api-keys', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
    }
    const { id } = (await browser.post('/api-keys', { name: 'mine', scopes: [...SCOPES] })).json();
    const { browser: stranger } = await signedIn();
    expect((await stranger.delete(`/api-keys/${id}`)).statusCode).toBe(404);
    expect((await stranger.get('/api-keys')).json().apiKeys).toEqual([]);
  });
});

describe('every route declares its access', () => {
  it('documents a security requirement with a known scope on each /api operation', async () => {
    const doc = (await fixture.t.app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>> };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    const api = operations.filter((o) => o.path.startsWith('/api/'));
    expect(api.length).toBeGreaterThan(20);
    for (const { path, method, op } of api) {
      expect(op.security, `${method} ${path}`).toBeDefined();
      for (const requirement of op.security!) {
        for (const scope of requirement.bearerAuth ?? []) expect(SCOPES, `${method} ${path}`).toContain(scope);
      }
    }
    const me = doc.paths['/api/v1/me']!.get!;
    expect(me.security).toEqual([{ sessionCookie: [] }, { bearerAuth: ['profile:read'] }]);
    expect(doc.paths['/api/v1/auth/login']!.post!.security).toEqual([]);
  });
});
