/** JWT access tokens and refresh tokens: issuance, verification attacks, revocation, rotation, reuse. */
import { createHmac, KeyObject, sign, type webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { generateKeyPair, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { SigningKeys } from './signing-keys.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none' });
const { clock } = fixture;
let n = 0;
const email = () => `tokens${++n}@example.org`;
const ISSUER = 'http://127.0.0.1:3000';
const AUDIENCE = 'http://127.0.0.1:3000/api';

async function sessionTokens() {
  const address = email();
  await createUser(fixture.t.database, { email: address });
  const browser = new BrowserClient(fixture.t.app);
  await browser.signIn(address, PASSWORD);
  const response = await browser.post('/auth/token', { grantType: 'session' });
  expect(response.statusCode).toBe(200);
  return { browser, address, ...(response.json() as { accessToken: string; refreshToken: string; expiresIn: number }) };
}

const me = (token: string) => fixture.t.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A validly signed token whose header makes a critical extension jose cannot honour (jose refuses to sign one). */
async function critToken(kid: string, payload: Record<string, unknown>) {
  const { privateKey } = await new SigningKeys(fixture.t.database.db, fixture.t.encryptor, clock, 600_000).signingKey();
  const input = `${b64({ alg: 'EdDSA', kid, typ: 'at+jwt', crit: ['x-unknown'], 'x-unknown': true })}.${b64(payload)}`;
  const signature = sign(null, Buffer.from(input), KeyObject.from(privateKey as CryptoKey));
  return `${input}.${signature.toString('base64url')}`;
}

/** Signs a token with the server's real key but the given issuer/audience. */
async function signedWith(options: { issuer?: string; audience?: string; sub: string }) {
  const { kid, privateKey } = await new SigningKeys(fixture.t.database.db, fixture.t.encryptor, clock, 600_000).signingKey();
  const now = Math.floor(clock.now().getTime() / 1000);
  return new SignJWT({ scope: 'profile:read' })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject(options.sub)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .setJti('x')
    .sign(privateKey);
}

/** Signs arbitrary claims with the server's real current key (to build otherwise-valid attack tokens). */
async function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const keys = new SigningKeys(fixture.t.database.db, fixture.t.encryptor, clock, 600_000);
  const { kid, privateKey } = await keys.signingKey();
  const now = Math.floor(clock.now().getTime() / 1000);
  return new SignJWT({ scope: 'profile:read', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt', ...header })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(String(claims.sub ?? '00000000-0000-4000-8000-000000000000'))
    .setIssuedAt(now)
    .setNotBefore(Number(claims.nbf ?? now))
    .setExpirationTime(Number(claims.exp ?? now + 600))
    .setJti('attack')
    .sign(privateKey);
}

describe('access tokens', () => {
  it('are EdDSA JWTs with the standard claims that authenticate reads [ASVS 9.1.1]', async () => {
    const { accessToken, expiresIn, address } = await sessionTokens();
    const [header, payload] = accessToken
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(payload).toMatchObject({ iss: ISSUER, aud: AUDIENCE });
    for (const claim of ['sub', 'exp', 'nbf', 'iat', 'jti', 'scope', 'sid']) expect(payload).toHaveProperty(claim);
    expect(expiresIn).toBe(600);
    expect((await me(accessToken)).json().email).toBe(address);
    const jwks = (await fixture.t.app.inject({ url: '/.well-known/jwks.json' })).json();
    expect(jwks.keys.map((k: JWK) => k.kid)).toContain(header.kid);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/); // no private parts
  });

  it('expire after their lifetime (with 30 s of skew) [ASVS 9.2.1]', async () => {
    const { accessToken } = await sessionTokens();
    clock.advance(600_000 + 20_000);
    expect((await me(accessToken)).statusCode).toBe(200);
    clock.advance(20_000);
    expect((await me(accessToken)).statusCode).toBe(401);
  });

  it('refuse alg none, HS256 keyed with the public key, unknown kid, tampering, wrong iss/aud, future nbf [ASVS 9.1.1, 9.1.2, 9.1.3, 9.2.1, 9.2.2, 9.2.3]', async () => {
    const { accessToken } = await sessionTokens();
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const decodedHeader = JSON.parse(Buffer.from(header, 'base64url').toString());
    const decodedPayload = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const jwk = (await fixture.t.app.inject({ url: '/.well-known/jwks.json' })).json().keys.find((k: JWK) => k.kid === decodedHeader.kid);
    expect(jwk).toBeDefined();
    const hsHeader = b64({ alg: 'HS256', kid: decodedHeader.kid, typ: 'at+jwt' });
    const hsSignature = createHmac('sha256', JSON.stringify(jwk)).update(`${hsHeader}.${payload}`).digest('base64url');
    const now = Math.floor(clock.now().getTime() / 1000);
    const attacks = {
      none: `${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`,
      hs256WithPublicKey: `${hsHeader}.${payload}.${hsSignature}`,
      unknownKid: `${b64({ ...decodedHeader, kid: 'nope' })}.${payload}.${signature}`,
      tampered: `${header}.${b64({ ...decodedPayload, scope: 'admin:write profile:read' })}.${signature}`,
      wrongIssuer: await signedWith({ issuer: 'https://evil.example', sub: decodedPayload.sub }),
      wrongAudience: await signedWith({ audience: 'https://other.example/api', sub: decodedPayload.sub }),
      foreignKey: await new SignJWT({ scope: 'profile:read' })
        .setProtectedHeader({ alg: 'EdDSA', kid: decodedHeader.kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(decodedPayload.sub)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .setJti('x')
        .sign((await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey),
      futureNbf: await forge({ nbf: now + 3_600, sub: decodedPayload.sub }),
      crit: await critToken(decodedHeader.kid, decodedPayload),
      wrongType: await forge({ sub: decodedPayload.sub }, { typ: 'JWT' }),
    };
    for (const [name, token] of Object.entries(attacks)) {
      const response = await me(token);
      expect(response.statusCode, name).toBe(401);
      expect(response.json().error.code).toBe('unauthenticated');
    }
    expect((await me(await forge({ sub: decodedPayload.sub }))).statusCode).toBe(200); // the forge helper itself is sound
  });

  it('stop working when their session is revoked', async () => {
    const { accessToken, browser } = await sessionTokens();
    expect((await me(accessToken)).statusCode).toBe(200);
    await browser.post('/auth/logout');
    expect((await me(accessToken)).statusCode).toBe(401);
  });

  it('carry only the scopes of the API key they came from, and die with it', async () => {
    const { browser } = await sessionTokens();
    const created = (await browser.post('/api-keys', { name: 'ci', scopes: ['agents:read'] })).json();
    const exchanged = await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { authorization: `Bearer ${created.key}` }, payload: { grantType: 'api_key' } });
    expect(exchanged.statusCode).toBe(200);
    const { accessToken } = exchanged.json();
    expect((await me(accessToken)).json().error.code).toBe('insufficient_scope');
    const withScope = (await browser.post('/api-keys', { name: 'me', scopes: ['profile:read'] })).json();
    const token2 = (await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { authorization: `Bearer ${withScope.key}` }, payload: { grantType: 'api_key' } })).json().accessToken;
    expect((await me(token2)).statusCode).toBe(200);
    await browser.delete(`/api-keys/${withScope.id}`);
    expect((await me(token2)).statusCode).toBe(401);
  });

  it('stay valid across a signing-key rotation until they expire [ASVS 13.3.4]', async () => {
    const { accessToken, browser } = await sessionTokens();
    const keys = new SigningKeys(fixture.t.database.db, fixture.t.encryptor, clock, 600_000);
    const oldKid = JSON.parse(Buffer.from(accessToken.split('.')[0]!, 'base64url').toString()).kid;
    const newKid = await keys.rotate();
    clock.advance(6_000); // past the verifier's refresh interval for unknown kids
    expect((await me(accessToken)).statusCode).toBe(200);
    const fresh = (await browser.post('/auth/token', { grantType: 'session' })).json().accessToken;
    const jwks = (await fixture.t.app.inject({ url: '/.well-known/jwks.json' })).json().keys.map((k: JWK) => k.kid);
    expect(jwks).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((await me(fresh)).statusCode).toBe(200);
    clock.advance(11 * 60_000 + 60_000);
    const later = (await fixture.t.app.inject({ url: '/.well-known/jwks.json' })).json().keys.map((k: JWK) => k.kid);
    expect(later).not.toContain(oldKid);
  });
});

describe('refresh tokens', () => {
  it('rotate on every use, and a reused one revokes the whole family', async () => {
    const { refreshToken } = await sessionTokens();
    const refresh = (token: string) => fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'refresh_token', refreshToken: token } });
    const second = await refresh(refreshToken);
    expect(second.statusCode).toBe(200);
    const next = second.json().refreshToken;
    expect(next).not.toBe(refreshToken);
    expect((await me(second.json().accessToken)).statusCode).toBe(200);

    const replay = await refresh(refreshToken); // the thief replays the spent token
    expect(replay.statusCode).toBe(401);
    expect((await refresh(next)).statusCode).toBe(401); // the legitimate holder is cut off too
    const events = await fixture.t.database.db.selectFrom('security_events').select('type').where('type', '=', 'auth.refresh_token_reused').execute();
    expect(events).toHaveLength(1);
  });

  it('die with their session and can be revoked explicitly', async () => {
    const a = await sessionTokens();
    await a.browser.post('/auth/logout');
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'refresh_token', refreshToken: a.refreshToken } })).statusCode).toBe(401);
    const b = await sessionTokens();
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token/revoke', payload: { refreshToken: b.refreshToken } })).statusCode).toBe(200);
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'refresh_token', refreshToken: b.refreshToken } })).statusCode).toBe(401);
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token/revoke', payload: { refreshToken: 'unknown-token-value' } })).statusCode).toBe(200);
  });

  it('die, with API keys, when the password is reset (evidence of compromise)', async () => {
    const { browser, refreshToken, address } = await sessionTokens();
    const { key } = (await browser.post('/api-keys', { name: 'intruder', scopes: ['profile:read'] })).json();
    expect((await me(key)).statusCode).toBe(200);
    await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/password/forgot', payload: { email: address } });
    const token = tokenFrom((await fixture.sink.next(address, /Reset your Bastion password/)).text);
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/password/reset', payload: { token, password: 'amber lighthouse hums softly' } })).statusCode).toBe(200);
    expect((await me(key)).statusCode).toBe(401);
    expect((await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'refresh_token', refreshToken } })).statusCode).toBe(401);
  });

  it('refuse a session grant without a session', async () => {
    const response = await fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'session' } });
    expect(response.statusCode).toBe(401);
  });
});
