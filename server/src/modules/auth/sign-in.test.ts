/**
 * Registration, sign-in and sessions through the real app, with a real SMTP exchange
 * and an injected clock. Each control has a test that fails without it.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient, randomIp } from '../../../test/browser-client.js';
import { verificationsStarted } from './password-pool.js';
import { generateToken } from '../../platform/crypto/tokens.js';

const fixture = useAccountsApp({ REGISTRATION: 'open', REQUIRE_MFA: 'none' });
const { sink, clock } = fixture;
let n = 0;
const email = () => `person${++n}@example.org`;

const client = (ip = randomIp(), userAgent?: string) => new BrowserClient(fixture.t.app, 'http://127.0.0.1:3000', userAgent, ip);

describe('registration and email verification', () => {
  it('registers, mails a verification link, and signs in only once verified [ASVS 14.2.1]', async () => {
    const address = email();
    const browser = client();
    expect((await browser.post('/auth/register', { email: address, password: PASSWORD, name: 'Ada Lovelace' })).statusCode).toBe(202);
    const mail = await sink.next(address, /Verify your email/);
    expect(mail.text).toContain('http://127.0.0.1:3000/verify-email#token=bst_verify_');
    const early = await browser.signIn(address, PASSWORD);
    expect(early.statusCode).toBe(403);
    expect(early.json().error.code).toBe('email_not_verified');
    await sink.next(address, /Verify your email/); // a fresh link was sent
    expect((await browser.post('/auth/verify-email', { token: tokenFrom(mail.text) })).statusCode).toBe(400); // replaced by the newer one
    const latest = await (async () => {
      await browser.signIn(address, PASSWORD);
      return sink.next(address, /Verify your email/);
    })();
    expect((await browser.post('/auth/verify-email', { token: tokenFrom(latest.text) })).statusCode).toBe(200);
    expect((await browser.post('/auth/verify-email', { token: tokenFrom(latest.text) })).json().error.code).toBe('invalid_token');
    const signedIn = await browser.signIn(address, PASSWORD);
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.json().user).toMatchObject({ email: address, name: 'Ada Lovelace', role: 'member', emailVerified: true });
  });

  it('answers the same for an email that already has an account, and tells its owner [ASVS 6.3.8]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const response = await client().post('/auth/register', { email: address.toUpperCase(), password: 'another violet tractor song', name: 'Mallory' });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ status: 'check_your_email' });
    await sink.next(address, /Someone tried to register/);
    const users = await fixture.t.database.db.selectFrom('users').select('name').where('email', '=', address).execute();
    expect(users).toEqual([{ name: 'Test Person' }]);
  });

  it('counts an invitation only for the address it was sent to', async () => {
    const invited = email();
    const { token, hash } = generateToken('invite');
    await fixture.t.database.db
      .insertInto('auth_tokens')
      .values({ id: crypto.randomUUID(), user_id: null, kind: 'invite', token_hash: hash, email: invited, created_at: clock.now(), expires_at: new Date(clock.now().getTime() + 3_600_000), payload: null })
      .execute();
    const victim = email();
    expect((await client().post('/auth/register', { email: victim, password: PASSWORD, name: 'Mallory', inviteToken: token })).statusCode).toBe(202);
    const row = await fixture.t.database.db.selectFrom('users').select('email_verified_at').where('email', '=', victim).executeTakeFirstOrThrow();
    expect(row.email_verified_at).toBeNull(); // the invite for another address proves nothing
    await sink.next(victim, /Verify your email/);
    expect((await client().post('/auth/register', { email: invited, password: PASSWORD, name: 'Invited', inviteToken: token })).statusCode).toBe(202);
    expect((await client().post('/auth/register', { email: invited.replace('@', '+2@'), password: PASSWORD, name: 'Again', inviteToken: token })).statusCode).toBe(202);
    const verified = await fixture.t.database.db
      .selectFrom('users')
      .select(['email', 'email_verified_at'])
      .where('email', 'in', [invited, invited.replace('@', '+2@')])
      .execute();
    expect(verified.find((u) => u.email === invited)?.email_verified_at).not.toBeNull();
    expect(verified.find((u) => u.email !== invited)?.email_verified_at ?? null).toBeNull();
  });

  it('refuses weak passwords with the rule and keeps nothing [ASVS 6.2.4, 6.2.12]', async () => {
    const address = email();
    const response = await client().post('/auth/register', { email: address, password: 'password12345678', name: 'Bob' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'weak_password', details: [{ path: 'password', message: 'common' }] });
    expect(await fixture.t.database.db.selectFrom('users').select('id').where('email', '=', address).execute()).toEqual([]);
  });

  it('refuses hostile bodies with validation_failed', async () => {
    for (const body of [{ email: 'not-an-email', password: PASSWORD, name: 'x' }, { email: email(), password: PASSWORD, name: 'x', role: 'admin' }, { email: email() }]) {
      const response = await client().post('/auth/register', body);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
  });
});

describe('sign-in without enumeration (ASVS 6.3.8)', () => {
  it('answers an unknown email exactly like a wrong password, after the same password work [ASVS 6.3.8]', async () => {
    const known = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const address = email();
        await createUser(fixture.t.database, { email: address });
        return address;
      }),
    );
    // The work is counted, not timed: one argon2 verification per attempt, whether or not the
    // account exists, so the answer's time says nothing about it (a timing comparison would
    // only measure how busy the machine is).
    const attempt = async (address: string) => {
      const before = verificationsStarted();
      const response = await client().post('/auth/login', { email: address, password: 'wrong horse battery staple' });
      return { response, verifications: verificationsStarted() - before };
    };
    const strip = (body: { error: { requestId?: string } }) => ({ ...body.error, requestId: undefined });
    for (const address of known) {
      const unknown = await attempt(email());
      const wrong = await attempt(address);
      expect(unknown.response.statusCode).toBe(401);
      expect(wrong.response.statusCode).toBe(401);
      expect(strip(unknown.response.json())).toEqual(strip(wrong.response.json()));
      expect({ unknown: unknown.verifications, wrong: wrong.verifications }).toEqual({ unknown: 1, wrong: 1 });
    }
  });
});

describe('lockout', () => {
  async function failTimes(browser: BrowserClient, address: string, times: number) {
    for (let i = 0; i < times; i++) {
      clock.advance(60_000); // past the progressive delay
      expect((await browser.post('/auth/login', { email: address, password: `wrong guess number ${i}` })).statusCode).toBe(401);
    }
  }

  it('slows, then locks an account after 5 failures, tells the owner, and unlocks after the lock time [ASVS 6.1.1, 6.3.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const attacker = client('198.51.100.9');
    await failTimes(attacker, address, 2);
    const hurried = await attacker.post('/auth/login', { email: address, password: 'another wrong guess' });
    expect(hurried.statusCode).toBe(429); // progressive delay
    expect(hurried.json().error.code).toBe('rate_limited');
    await failTimes(attacker, address, 3);
    const locked = await client('10.0.2.2').post('/auth/login', { email: address, password: PASSWORD });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe('account_locked');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    // The person reads how long to wait, the same wait as Retry-After (15 minutes here).
    expect(locked.json().error.message).toContain(`Try again in ${Math.ceil(Number(locked.headers['retry-after']) / 60)} minutes`);
    expect(hurried.json().error.message).toMatch(/try again in \d+ seconds?\./);
    await sink.next(address, /account was locked/);
    clock.advance(16 * 60_000);
    expect((await client('10.0.2.2').signIn(address, PASSWORD)).statusCode).toBe(200);
  });

  it('lets an administrator unlock an account, and nobody else', async () => {
    const address = email();
    const userId = await createUser(fixture.t.database, { email: address });
    const adminAddress = email();
    await createUser(fixture.t.database, { email: adminAddress, role: 'admin' });
    const member = email();
    await createUser(fixture.t.database, { email: member });
    await failTimes(client('198.51.100.11'), address, 5);
    expect((await client('10.0.2.5').post('/auth/login', { email: address, password: PASSWORD })).json().error.code).toBe('account_locked');

    const memberBrowser = client('10.0.2.6');
    await memberBrowser.signIn(member, PASSWORD);
    expect((await memberBrowser.post(`/admin/users/${userId}/unlock`)).json().error.code).toBe('forbidden');
    expect((await client('10.0.2.7').post(`/admin/users/${userId}/unlock`)).statusCode).toBe(401);
    const admin = client('10.0.2.8');
    await admin.signIn(adminAddress, PASSWORD);
    expect((await admin.post('/admin/users/5b0e3a0e-8f2c-4a57-9d42-3c8f0d4e9a11/unlock')).statusCode).toBe(404);
    expect((await admin.post(`/admin/users/${userId}/unlock`)).statusCode).toBe(200);
    expect((await client('10.0.2.5').signIn(address, PASSWORD)).statusCode).toBe(200);
  });

  it('locks unknown emails the same way, so locks reveal nothing [ASVS 6.3.8]', async () => {
    const ghost = email();
    await failTimes(client('198.51.100.10'), ghost, 5);
    expect((await client('10.0.2.3').post('/auth/login', { email: ghost, password: PASSWORD })).json().error.code).toBe('account_locked');
  });

  it('resets the failure count after a successful sign-in', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = client('10.0.2.4');
    await failTimes(browser, address, 4);
    clock.advance(60_000);
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    await failTimes(browser, address, 4);
    clock.advance(60_000);
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
  });
});

describe('sessions', () => {
  it('issues a new session id at sign-in, ignoring one planted before (fixation) [ASVS 7.2.3, 7.2.4, 11.5.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = client();
    const planted = 'bst_sess_' + 'A'.repeat(43);
    browser.cookies.set('bastion_session', planted);
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    const first = browser.sessionCookie;
    expect(first).toMatch(/^bst_sess_[A-Za-z0-9_-]{43}$/);
    expect(first).not.toBe(planted);
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    expect(browser.sessionCookie).not.toBe(first);
  });

  it('sets a HttpOnly, SameSite=Lax cookie scoped to / [ASVS 3.3.2, 3.3.4, 14.3.2]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const response = await client().post('/auth/login', { email: address, password: PASSWORD });
    const header = String(response.headers['set-cookie']);
    expect(header).toMatch(/bastion_session=bst_sess_/);
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Lax/);
    expect(header).toMatch(/Path=\//);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('ends a session after 30 idle minutes and after 12 hours however active [ASVS 7.3.1, 7.3.2]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = client();
    await browser.signIn(address, PASSWORD);
    clock.advance(29 * 60_000);
    expect((await browser.get('/me')).statusCode).toBe(200);
    clock.advance(31 * 60_000);
    expect((await browser.get('/me')).statusCode).toBe(401);

    await browser.signIn(address, PASSWORD);
    for (let elapsed = 0; elapsed < 12 * 60; elapsed += 20) {
      clock.advance(20 * 60_000);
      const status = (await browser.get('/me')).statusCode;
      expect(status, `after ${elapsed + 20} minutes`).toBe(elapsed + 20 < 12 * 60 ? 200 : 401);
    }
  });

  it('logs out server-side: the old cookie no longer works [ASVS 7.4.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = client();
    await browser.signIn(address, PASSWORD);
    const token = browser.sessionCookie!;
    expect((await browser.post('/auth/logout')).statusCode).toBe(200);
    const replay = client();
    replay.cookies.set('bastion_session', token);
    expect((await replay.get('/me')).statusCode).toBe(401);
  });

  it('lists sessions, revokes one, and logout-all ends the others [ASVS 7.4.3, 7.5.2]', async () => {
    const address = email();
    const other = email();
    await createUser(fixture.t.database, { email: address });
    await createUser(fixture.t.database, { email: other });
    const laptop = client('10.0.3.1', 'Laptop Firefox');
    const phone = client('10.0.3.2', 'Phone Safari');
    const stranger = client('10.0.3.3');
    await laptop.signIn(address, PASSWORD);
    await phone.signIn(address, PASSWORD);
    await stranger.signIn(other, PASSWORD);
    const list = (await laptop.get('/auth/sessions')).json().sessions as { id: string; current: boolean; userAgent: string; ip: string }[];
    expect(list).toHaveLength(2);
    expect(list.find((s) => s.current)).toMatchObject({ userAgent: 'Laptop Firefox', ip: '10.0.3.1' });
    const phoneSession = list.find((s) => !s.current)!;
    expect((await stranger.delete(`/auth/sessions/${phoneSession.id}`)).statusCode).toBe(404); // not theirs
    expect((await phone.get('/me')).statusCode).toBe(200);
    expect((await laptop.delete(`/auth/sessions/${phoneSession.id}`)).statusCode).toBe(200);
    expect((await phone.get('/me')).statusCode).toBe(401);

    await phone.signIn(address, PASSWORD);
    expect((await laptop.post('/auth/logout-all')).json()).toEqual({ ended: 2 });
    expect((await phone.get('/me')).statusCode).toBe(401);
    expect((await laptop.get('/me')).statusCode).toBe(401);
    expect((await stranger.get('/me')).statusCode).toBe(200);
  });
});

describe('CSRF (ASVS 3.5.1)', () => {
  it('refuses cookie-authenticated changes without the token, with a wrong one, or from another origin [ASVS 3.5.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = client();
    await browser.signIn(address, PASSWORD);
    const attempts: Record<string, string>[] = [{ 'x-csrf-token': '' }, { 'x-csrf-token': 'forged-token-value' }, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }];
    for (const headers of attempts) {
      const response = await browser.post('/auth/logout-all', {}, headers);
      expect(response.statusCode, JSON.stringify(headers)).toBe(403);
      expect(response.json().error.code).toBe('csrf_failed');
    }
    expect((await browser.get('/me')).statusCode).toBe(200);
    expect((await browser.post('/auth/logout-all')).statusCode).toBe(200);
  });

  it('refuses a cross-site sign-in attempt (login CSRF) [ASVS 3.5.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const response = await client().post('/auth/login', { email: address, password: PASSWORD }, { origin: 'https://evil.example' });
    expect(response.statusCode).toBe(403);
  });
});
