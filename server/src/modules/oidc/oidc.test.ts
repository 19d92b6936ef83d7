/**
 * Single sign-on against a real OpenID Connect provider (oidc-provider) on loopback:
 * the whole code flow, and the attacks RFC 9700 warns about.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser, tokenFrom } from '../../../test/accounts.js';
import { buildTestApp, testDatabase, type TestApp } from '../../../test/harness.js';
import { TestOidcProvider } from '../../../test/oidc-provider.js';
import { SmtpSink } from '../../../test/smtp-sink.js';

const PUBLIC_URL = 'http://127.0.0.1:3000';
const REDIRECT = `${PUBLIC_URL}/api/v1/auth/oidc/callback`;
const SECRET = 'oidc-client-secret-for-tests-0123456789';
const provider = new TestOidcProvider();
const other = new TestOidcProvider();
const sink = new SmtpSink();
let t: TestApp;
let n = 0;

beforeAll(async () => {
  await provider.start(REDIRECT, SECRET);
  await other.start(REDIRECT, SECRET);
  t = await buildTestApp({
    smtpUrl: await sink.start(),
    env: { REQUIRE_MFA: 'none', RATE_LIMIT_SCALE: '20', OIDC_ISSUER: provider.issuer, OIDC_CLIENT_ID: 'bastion', OIDC_CLIENT_SECRET: SECRET, OIDC_JIT_PROVISIONING: 'true' },
  });
});
afterAll(async () => {
  await t.close();
  await provider.stop();
  await other.stop();
  await sink.stop();
});
beforeEach(async () => {
  await testDatabase();
});

/** Starts a flow in "the browser": returns the provider URL and the flow cookie. */
async function start() {
  const response = await t.app.inject({ url: '/api/v1/auth/oidc/start?redirect_uri=https://evil.example/steal&next=https://evil.example' });
  expect(response.statusCode).toBe(302);
  const flowCookie = (response.cookies as { name: string; value: string }[]).find((c) => c.name === 'bastion_oidc')!.value;
  return { location: String(response.headers.location), flowCookie };
}

async function callback(callbackUrl: string, flowCookie?: string) {
  const url = new URL(callbackUrl);
  const response = await t.app.inject({ url: `${url.pathname}${url.search}`, headers: flowCookie ? { cookie: `bastion_oidc=${flowCookie}` } : {} });
  const session = (response.cookies as { name: string; value: string }[]).find((c) => c.name === 'bastion_session')?.value;
  return { response, location: String(response.headers.location), session };
}

function me(session: string) {
  return t.app.inject({ url: '/api/v1/me', headers: { cookie: `bastion_session=${session}` } });
}

const login = (account: { email?: string; email_verified?: boolean; name?: string }) => {
  const sub = `user-${++n}`;
  provider.accounts.set(sub, account);
  return sub;
};

describe('OIDC single sign-on', () => {
  it('runs the code flow with PKCE, state and nonce, and creates the account just in time [ASVS 10.1.2, 6.8.1]', async () => {
    const mixedCase = `Sso${n + 1}@Example.org`;
    const sub = login({ email: mixedCase, email_verified: true, name: 'Sso Person' });
    const { location, flowCookie } = await start();
    const auth = new URL(location);
    expect(auth.origin).toBe(provider.issuer);
    expect(auth.searchParams.get('redirect_uri')).toBe(REDIRECT); // never the one in the query
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('state')).toBeTruthy();
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    const back = await provider.authorize(location, sub);
    const { location: landed, session } = await callback(back, flowCookie);
    expect(landed).toBe(`${PUBLIC_URL}/`);
    expect((await me(session!)).json()).toMatchObject({ email: mixedCase.toLowerCase(), emailVerified: true, name: 'Sso Person' });
    const identity = await t.database.db.selectFrom('user_identities').selectAll().executeTakeFirstOrThrow();
    expect(identity).toMatchObject({ issuer: provider.issuer, subject: sub });
  });

  it('refuses a wrong state, a missing browser binding and a replayed callback [ASVS 10.1.2]', async () => {
    const sub = login({ email: `state${n}@example.org`, email_verified: true });
    const first = await start();
    const back = await provider.authorize(first.location, sub);
    const tampered = back.replace(/state=[^&]+/, 'state=forged-state-value-123');
    expect((await callback(tampered, first.flowCookie)).location).toBe(`${PUBLIC_URL}/sign-in#error=invalid_token`);
    const second = await start();
    const back2 = await provider.authorize(second.location, sub);
    expect((await callback(back2)).location).toContain('#error=invalid_token'); // another browser (no flow cookie)
    const third = await start();
    const back3 = await provider.authorize(third.location, sub);
    expect((await callback(back3, third.flowCookie)).session).toBeDefined();
    const replay = await callback(back3, third.flowCookie);
    expect(replay.session).toBeUndefined();
    expect(replay.location).toContain('#error=invalid_token');
  });

  it('refuses a response whose iss names another provider (mix-up, RFC 9207) [ASVS 10.2.2]', async () => {
    const sub = login({ email: `mixup${n}@example.org`, email_verified: true });
    const { location, flowCookie } = await start();
    const back = await provider.authorize(location, sub);
    const mixed = back.replace(/iss=[^&]+/, `iss=${encodeURIComponent(other.issuer)}`);
    const { location: landed, session } = await callback(mixed, flowCookie);
    expect(session).toBeUndefined();
    expect(landed).toContain('#error=invalid_token');
  });

  it('refuses an ID token whose nonce is not the one of this flow [ASVS 10.5.1]', async () => {
    const sub = login({ email: `nonce${n}@example.org`, email_verified: true });
    const { location, flowCookie } = await start();
    // The attacker swaps in an authorization request with their own nonce but our state.
    const forged = new URL(location);
    forged.searchParams.set('nonce', 'attacker-chosen-nonce-value');
    const back = await provider.authorize(forged.href, sub);
    const { session, location: landed } = await callback(back, flowCookie);
    expect(session).toBeUndefined();
    expect(landed).toContain('#error=invalid_token');
  });

  it('refuses an ID token the provider signed for another client (aud) [ASVS 10.5.4]', async () => {
    const sub = login({ email: `audience${n}@example.org`, email_verified: true });
    const attempt = async (change: (claims: Record<string, unknown>) => Record<string, unknown>) => {
      provider.tamperIdToken = change;
      try {
        const { location, flowCookie } = await start();
        return await callback(await provider.authorize(location, sub), flowCookie);
      } finally {
        provider.tamperIdToken = undefined;
      }
    };
    // Meant for another client; or for both, but authorised for the other one (azp).
    for (const forged of [{ aud: 'another-app' }, { aud: ['another-app'] }, { aud: ['another-app', 'bastion'], azp: 'another-app' }]) {
      const { session, location } = await attempt((claims) => ({ ...claims, ...forged }));
      expect(session, JSON.stringify(forged)).toBeUndefined();
      expect(location, JSON.stringify(forged)).toContain('#error=invalid_token');
    }
    // The same re-signing with the claims as issued is accepted: the refusals above are the audience's.
    expect((await attempt((claims) => claims)).session).toBeDefined();
  });

  it('never silently takes over an existing account: unverified emails are refused, verified ones need the owner [ASVS 6.8.1]', async () => {
    const address = `owner${n}@example.org`;
    const ownerId = await createUser(t.database, { email: address });
    const unverified = login({ email: address, email_verified: false });
    const a = await start();
    const refused = await callback(await provider.authorize(a.location, unverified), a.flowCookie);
    expect(refused.session).toBeUndefined();
    expect(await t.database.db.selectFrom('user_identities').selectAll().execute()).toEqual([]);

    const verified = login({ email: address, email_verified: true });
    const b = await start();
    const pending = await callback(await provider.authorize(b.location, verified), b.flowCookie);
    expect(pending.session).toBeUndefined();
    expect(pending.location).toBe(`${PUBLIC_URL}/sign-in#sso=link_pending`);
    const mail = await sink.next(address, /Link a single sign-on identity/);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/link', payload: { token: tokenFrom(mail.text) } })).statusCode).toBe(200);
    const c = await start();
    const linked = await callback(await provider.authorize(c.location, verified), c.flowCookie);
    expect(linked.session).toBeDefined();
    expect((await me(linked.session!)).json().id).toBe(ownerId);
  });

  it("still asks for Bastion's second factor and honours a forced password reset", async () => {
    const sub = login({ email: `mfa${n + 1}@example.org`, email_verified: true });
    const first = await start();
    const created = await callback(await provider.authorize(first.location, sub), first.flowCookie);
    expect(created.session).toBeDefined();
    await t.database.db
      .updateTable('users')
      .set({ totp_enabled_at: new Date(), totp_secret: Buffer.from('x') })
      .execute();
    const second = await start();
    const withMfa = await callback(await provider.authorize(second.location, sub), second.flowCookie);
    expect(withMfa.session).toBeUndefined();
    expect(withMfa.location).toMatch(/\/sign-in#mfaToken=bst_mfa_/);
    await t.database.db.updateTable('users').set({ password_reset_required: true }).execute();
    const third = await start();
    const forced = await callback(await provider.authorize(third.location, sub), third.flowCookie);
    expect(forced.session).toBeUndefined();
    expect(forced.location).toContain('#error=password_reset_required');
  });

  it('is not offered to redirect anywhere else: the provider refuses an unregistered redirect_uri', async () => {
    const { location } = await start();
    const evil = new URL(location);
    evil.searchParams.set('redirect_uri', 'https://evil.example/callback');
    const response = await fetch(evil, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });
});
