/** TOTP enrolment, second-factor sign-in, replay, recovery codes and REQUIRE_MFA. */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { totpAt } from './totp.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'admins' });
const { sink, clock } = fixture;
let n = 0;
const email = () => `mfa${++n}@example.org`;

/** Signs in and enrols TOTP; returns the browser, the secret and the recovery codes. */
async function enrolled(role: 'admin' | 'member' = 'member') {
  const address = email();
  await createUser(fixture.t.database, { email: address, role });
  const browser = new BrowserClient(fixture.t.app);
  expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
  const setup = await browser.post('/auth/mfa/totp/setup');
  expect(setup.statusCode).toBe(200);
  const { secret, otpauthUri, qrSvg } = setup.json();
  expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Bastion:.*secret=/);
  expect(qrSvg).toMatch(/^data:image\/svg\+xml;base64,/);
  const before = browser.sessionCookie;
  const confirm = await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) });
  expect(confirm.statusCode).toBe(200);
  expect(browser.sessionCookie).not.toBe(before); // privilege change: new session id
  await browser.loadCsrf();
  const codes = confirm.json().recoveryCodes as string[];
  return { address, browser, secret: secret as string, codes };
}

describe('TOTP', () => {
  it('stores the secret encrypted, never in clear', async () => {
    const { address, secret } = await enrolled();
    const row = await fixture.t.database.db.selectFrom('users').select('totp_secret').where('email', '=', address).executeTakeFirstOrThrow();
    expect(Buffer.from(row.totp_secret!).toString('latin1')).not.toContain(secret);
    await sink.next(address, /Two-factor authentication enabled/);
  });

  it('requires a code after the password, and refuses a replayed code [ASVS 6.3.3, 6.5.1]', async () => {
    const { address, secret } = await enrolled();
    clock.advance(60_000);
    const code = await totpAt(secret, clock.now());
    const first = new BrowserClient(fixture.t.app);
    const step1 = await first.post('/auth/login', { email: address, password: PASSWORD });
    expect(step1.json()).toMatchObject({ mfaRequired: true });
    expect(first.sessionCookie).toBeUndefined();
    const step2 = await first.post('/auth/login/mfa', { mfaToken: step1.json().mfaToken, code });
    expect(step2.statusCode).toBe(200);
    expect(first.sessionCookie).toBeDefined();

    const second = new BrowserClient(fixture.t.app);
    const again = await second.post('/auth/login', { email: address, password: PASSWORD });
    const replay = await second.post('/auth/login/mfa', { mfaToken: again.json().mfaToken, code });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.code).toBe('invalid_credentials');
  });

  it('accepts one step of drift but not two [ASVS 6.5.5]', async () => {
    const { address, secret } = await enrolled();
    clock.advance(120_000);
    const browser = new BrowserClient(fixture.t.app);
    const late = await totpAt(secret, new Date(clock.now().getTime() - 30_000));
    expect((await browser.signIn(address, PASSWORD, async () => late)).statusCode).toBe(200);
    clock.advance(120_000);
    const stale = await totpAt(secret, new Date(clock.now().getTime() - 90_000));
    expect((await new BrowserClient(fixture.t.app).signIn(address, PASSWORD, async () => stale)).statusCode).toBe(401);
  });

  it('lets each recovery code sign in exactly once [ASVS 6.5.1]', async () => {
    const { address, codes } = await enrolled();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect((await new BrowserClient(fixture.t.app).signIn(address, PASSWORD, async () => codes[0]!.toLowerCase())).statusCode).toBe(200);
    clock.advance(60_000);
    expect((await new BrowserClient(fixture.t.app).signIn(address, PASSWORD, async () => codes[0]!)).statusCode).toBe(401);
    const browser = new BrowserClient(fixture.t.app);
    await browser.signIn(address, PASSWORD, async () => codes[1]!);
    expect((await browser.get('/me')).json().recoveryCodesLeft).toBe(8);
  });

  it('counts wrong codes toward the account lockout [ASVS 6.6.3]', async () => {
    const { address, secret } = await enrolled();
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      const browser = new BrowserClient(fixture.t.app);
      const step = await browser.post('/auth/login', { email: address, password: PASSWORD });
      expect((await browser.post('/auth/login/mfa', { mfaToken: step.json().mfaToken, code: '000000' })).statusCode).toBe(401);
    }
    clock.advance(60_000);
    const locked = await new BrowserClient(fixture.t.app).post('/auth/login', { email: address, password: PASSWORD });
    expect(locked.json().error.code).toBe('account_locked');
    expect(await totpAt(secret, clock.now())).toMatch(/^\d{6}$/);
  });

  it('disables only with the password and a code, and regenerates recovery codes with a code [ASVS 7.5.1]', async () => {
    const { address, browser, secret, codes } = await enrolled();
    clock.advance(60_000);
    const fresh = await browser.post('/auth/mfa/recovery-codes', { code: await totpAt(secret, clock.now()) });
    expect(fresh.statusCode).toBe(200);
    expect(fresh.json().recoveryCodes[0]).not.toBe(codes[0]);
    clock.advance(60_000);
    expect((await browser.post('/auth/mfa/totp/disable', { password: 'not my password at all', code: await totpAt(secret, clock.now()) })).statusCode).toBe(401);
    clock.advance(60_000);
    expect((await browser.post('/auth/mfa/totp/disable', { password: PASSWORD, code: await totpAt(secret, clock.now()) })).statusCode).toBe(200);
    expect((await browser.get('/me')).json().mfaEnabled).toBe(false);
    expect((await new BrowserClient(fixture.t.app).signIn(address, PASSWORD)).json().mfaRequired).toBe(false);
  });
});

describe('REQUIRE_MFA=admins', () => {
  it('asks admins to enrol before anything else, and not members [ASVS 6.3.3]', async () => {
    const admin = email();
    await createUser(fixture.t.database, { email: admin, role: 'admin' });
    const browser = new BrowserClient(fixture.t.app);
    await browser.signIn(admin, PASSWORD);
    expect((await browser.get('/me')).json().mfaEnrollmentRequired).toBe(true);
    const blocked = await browser.post('/auth/mfa/recovery-codes', { code: '123456' });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('mfa_enrollment_required');

    const { browser: member } = await enrolled('member');
    expect((await member.get('/me')).json().mfaEnrollmentRequired).toBe(false);
    const { browser: enrolledAdmin } = await enrolled('admin');
    expect((await enrolledAdmin.get('/me')).json().mfaEnrollmentRequired).toBe(false);
  });
});
