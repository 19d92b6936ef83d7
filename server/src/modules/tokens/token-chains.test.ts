/**
 * What a token chain inherits from where it came from, and how it dies: the IP ranges of
 * an API key (claim on the access token, checked on use and on refresh), the life of a
 * browser session (idle timeout, sign-out), and a family revocation (reuse, explicit,
 * or a race between parallel refreshes) that also ends the access tokens it issued.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { burst } from '../../../test/parallel.js';
import { generateToken, hashToken } from '../../platform/crypto/tokens.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none' });
const { clock } = fixture;
let n = 0;
const IN_RANGE = '203.0.113.40';
const OUTSIDE = '198.51.100.7';

interface Pair {
  accessToken: string;
  refreshToken: string;
}

async function signedIn() {
  const address = `chains${++n}@example.org`;
  await createUser(fixture.t.database, { email: address });
  const browser = new BrowserClient(fixture.t.app);
  await browser.signIn(address, PASSWORD);
  return browser;
}

async function sessionPair(): Promise<Pair & { browser: BrowserClient }> {
  const browser = await signedIn();
  const response = await browser.post('/auth/token', { grantType: 'session' });
  expect(response.statusCode).toBe(200);
  return { browser, ...(response.json() as Pair) };
}

const me = (token: string, ip = '10.9.8.7') => fixture.t.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: ip });
const refresh = (refreshToken: string, ip = '10.9.8.7') => fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'refresh_token', refreshToken }, remoteAddress: ip });
const exchange = (key: string, ip: string) => fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { authorization: `Bearer ${key}` }, payload: { grantType: 'api_key' }, remoteAddress: ip });
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('tokens from an IP-restricted API key', () => {
  it('carry its ranges and are refused, on use and on refresh, from anywhere else', async () => {
    const browser = await signedIn();
    const { key } = (await browser.post('/api-keys', { name: 'office', scopes: ['profile:read'], allowedCidrs: ['203.0.113.0/24'] })).json();
    expect((await exchange(key, OUTSIDE)).statusCode).toBe(401); // the key itself, as before
    const issued = await exchange(key, IN_RANGE);
    expect(issued.statusCode).toBe(200);
    const pair = issued.json() as Pair;
    expect(claims(pair.accessToken).cidr).toEqual(['203.0.113.0/24']);

    expect((await me(pair.accessToken, '203.0.113.200')).statusCode).toBe(200);
    const stolen = await me(pair.accessToken, OUTSIDE);
    expect(stolen.statusCode).toBe(401);
    expect(stolen.json().error.code).toBe('unauthenticated');
    expect((await me(pair.accessToken, '::ffff:203.0.113.9')).statusCode).toBe(200); // IPv4-mapped socket address

    expect((await refresh(pair.refreshToken, OUTSIDE)).statusCode).toBe(401);
    // Refused before it was spent: the holder inside the range is not cut off.
    const next = await refresh(pair.refreshToken, IN_RANGE);
    expect(next.statusCode).toBe(200);
    const rotated = next.json() as Pair;
    expect(claims(rotated.accessToken).cidr).toEqual(['203.0.113.0/24']);
    expect((await me(rotated.accessToken, OUTSIDE)).statusCode).toBe(401);
    expect((await me(rotated.accessToken, IN_RANGE)).statusCode).toBe(200);
    expect((await refresh(rotated.refreshToken, OUTSIDE)).statusCode).toBe(401);
    expect((await refresh(rotated.refreshToken, IN_RANGE)).statusCode).toBe(200);
  });

  it('carry no range claim from an unrestricted key and work from any address', async () => {
    const browser = await signedIn();
    const { key } = (await browser.post('/api-keys', { name: 'anywhere', scopes: ['profile:read'] })).json();
    const pair = (await exchange(key, IN_RANGE)).json() as Pair;
    expect(claims(pair.accessToken)).not.toHaveProperty('cidr');
    expect((await me(pair.accessToken, OUTSIDE)).statusCode).toBe(200);
    expect((await refresh(pair.refreshToken, OUTSIDE)).statusCode).toBe(200);
  });
});

describe('refresh chains from a browser session', () => {
  it('end when the session is idle past its timeout, and refreshing does not keep it alive [ASVS 7.3.1]', async () => {
    const { browser, refreshToken } = await sessionPair();
    clock.advance(20 * 60_000);
    const first = await refresh(refreshToken);
    expect(first.statusCode).toBe(200); // within the 30-minute idle timeout
    clock.advance(20 * 60_000); // 40 minutes without the cookie being used
    expect((await refresh(first.json().refreshToken)).statusCode).toBe(401);
    expect((await browser.get('/me')).statusCode).toBe(401);
  });

  it('live on while the session is in use', async () => {
    const { browser, refreshToken } = await sessionPair();
    clock.advance(20 * 60_000);
    expect((await browser.get('/me')).statusCode).toBe(200);
    clock.advance(20 * 60_000);
    expect((await refresh(refreshToken)).statusCode).toBe(200);
  });

  it('end when the user signs out', async () => {
    const { browser, refreshToken } = await sessionPair();
    await browser.post('/auth/logout');
    expect((await refresh(refreshToken)).statusCode).toBe(401);
  });
});

describe('a revoked refresh family', () => {
  it('takes its access tokens with it when a spent token is replayed', async () => {
    const { accessToken, refreshToken } = await sessionPair();
    const rotated = (await refresh(refreshToken)).json() as Pair;
    expect((await me(rotated.accessToken)).statusCode).toBe(200);
    expect((await refresh(refreshToken)).statusCode).toBe(401); // the replay
    expect((await me(rotated.accessToken)).statusCode).toBe(401);
    expect((await me(accessToken)).statusCode).toBe(401);
  });

  it('takes its access tokens with it when revoked explicitly (RFC 7009 §2.1), and no other family', async () => {
    const { browser, accessToken, refreshToken } = await sessionPair();
    const other = (await browser.post('/auth/token', { grantType: 'session' })).json() as Pair;
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token/revoke', payload: { refreshToken } })).statusCode).toBe(200);
    expect((await me(accessToken)).statusCode).toBe(401);
    expect((await me(other.accessToken)).statusCode).toBe(200);
  });

  it('lets exactly one of parallel refreshes of one token through, and then refuses the whole family', async () => {
    const { refreshToken } = await sessionPair();
    const responses = await burst(
      fixture.t.app,
      Array.from({ length: 8 }, () => ({ method: 'POST' as const, url: '/api/v1/auth/token', body: { grantType: 'refresh_token', refreshToken } })),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(
      statuses.filter((s) => s === 200),
      statuses.join(','),
    ).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(7);
    // Parallel use of one token is reuse: even the winner's fresh pair is dead.
    const winner = responses.find((r) => r.statusCode === 200)!.json<Pair>();
    expect((await me(winner.accessToken)).statusCode).toBe(401);
    expect((await refresh(winner.refreshToken)).statusCode).toBe(401);
  });

  it('refuses a token minted after the revocation by a refresh that raced it', async () => {
    const { refreshToken } = await sessionPair();
    const { db } = fixture.t.database;
    const parent = await db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hashToken(refreshToken)).executeTakeFirstOrThrow();
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token/revoke', payload: { refreshToken } })).statusCode).toBe(200);
    // The racing refresh inserted its child after the family's rows were marked revoked.
    const straggler = generateToken('rfsh');
    await db
      .insertInto('refresh_tokens')
      .values({ ...parent, id: randomUUID(), token_hash: straggler.hash, created_at: clock.now(), used_at: null, revoked_at: null })
      .execute();
    expect((await refresh(straggler.token)).statusCode).toBe(401);
  });
});
