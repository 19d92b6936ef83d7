/**
 * ASVS 5.0 chapter 6 attacks that had no test of their own: password length at both ends,
 * truncation, forced rotation, lockout abuse, security questions and a reset that would
 * skip the second factor. Through the HTTP API of the real app, with a real SMTP sink.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom, useAccountsApp } from '../../accounts.js';
import { BrowserClient, randomIp } from '../../browser-client.js';
import { totpAt } from '../../../src/modules/auth/totp.js';

const fixture = useAccountsApp({ REGISTRATION: 'open', REQUIRE_MFA: 'none' });
const { sink, clock } = fixture;
let n = 0;
const email = () => `asvs-password${++n}@example.org`;
const client = () => new BrowserClient(fixture.t.app, 'http://127.0.0.1:3000', undefined, randomIp());
const NEW_PASSWORD = 'amber lighthouse hums softly';

/** A passphrase of `length` code points, no word repeated, nothing personal. */
function passphrase(length: number): string {
  const words = ['violet', 'tractor', 'amber', 'lighthouse', 'quiet', 'harbour', 'copper', 'meadow', 'falcon', 'granite', 'willow', 'ember', 'saffron', 'glacier', 'orchid', 'thunder'];
  let text = '';
  for (let i = 0; text.length < length; i++) text += `${words[i % words.length]}${Math.floor(i / words.length)} `;
  return text.slice(0, length);
}

describe('password length and truncation', () => {
  it('refuses a password one code point below the 15-character minimum and accepts one at it [ASVS 6.2.1]', async () => {
    const short = await client().post('/auth/register', { email: email(), password: 'Xk9#mQ2$vL7@pR', name: 'Short Password' });
    expect(short.statusCode).toBe(400);
    expect(short.json().error).toMatchObject({ code: 'weak_password', details: [{ path: 'password', message: 'too_short' }] });
    const enough = await client().post('/auth/register', { email: email(), password: 'Xk9#mQ2$vL7@pRw', name: 'Enough Password' });
    expect(enough.statusCode, enough.body).toBe(202);
  });

  it('accepts 64 and more characters, and checks every one of them: no truncation [ASVS 6.2.8, 6.2.9]', async () => {
    const long = passphrase(128);
    const address = email();
    expect((await client().post('/auth/register', { email: address, password: long, name: 'Long Password' })).statusCode).toBe(202);
    await client().post('/auth/verify-email', { token: tokenFrom((await sink.next(address, /Verify your email/)).text) });
    expect((await client().signIn(address, long)).statusCode).toBe(200);
    // bcrypt-style truncation (72 bytes) or a 64-character cut would accept these.
    for (const variant of [long.slice(0, 64), long.slice(0, 72), `${long.slice(0, 127)}X`]) {
      clock.advance(60_000); // past the progressive delay
      const response = await client().post('/auth/login', { email: address, password: variant });
      expect(response.statusCode, `${variant.length} characters`).toBe(401);
    }
    // A password change to 300 characters works too.
    const browser = client();
    clock.advance(60_000);
    await browser.signIn(address, long);
    const longer = passphrase(300);
    expect((await browser.post('/auth/password/change', { currentPassword: long, newPassword: longer })).statusCode).toBe(200);
    expect((await client().signIn(address, longer)).statusCode).toBe(200);
  });

  it('never asks for a periodic change: a two-year-old password still signs in [ASVS 6.2.10]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    clock.advance(2 * 366 * 24 * 60 * 60_000);
    const browser = client();
    const response = await browser.signIn(address, PASSWORD);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().user).toMatchObject({ email: address });
    expect((await browser.get('/me')).statusCode).toBe(200);
  });
});

describe('lockout abuse', () => {
  it('cannot lock the owner out: a password reset lifts the lock at once [ASVS 6.1.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const attacker = new BrowserClient(fixture.t.app, undefined, undefined, '198.51.100.77');
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      expect((await attacker.post('/auth/login', { email: address, password: `wrong guess number ${i}` })).statusCode).toBe(401);
    }
    expect((await client().post('/auth/login', { email: address, password: PASSWORD })).json().error.code).toBe('account_locked');
    expect((await client().post('/auth/password/forgot', { email: address })).statusCode).toBe(202);
    const token = tokenFrom((await sink.next(address, /Reset your Bastion password/)).text);
    expect((await client().post('/auth/password/reset', { token, password: NEW_PASSWORD })).statusCode).toBe(200);
    expect((await client().signIn(address, NEW_PASSWORD)).statusCode).toBe(200); // no wait for the lock to run out
  });
});

describe('account recovery', () => {
  it('has no security questions or password hints anywhere in the API [ASVS 6.4.2]', async () => {
    const doc = (await fixture.t.app.inject({ url: '/api/v1/openapi.json' })).json();
    const text = JSON.stringify(doc).toLowerCase();
    for (const word of ['security question', 'securityquestion', 'security_question', 'secret question', 'password hint', 'passwordhint', 'password_hint', 'mother', 'first pet']) {
      expect(text, word).not.toContain(word);
    }
    // What a reset asks for: an email, then the mailed token and a new password, nothing else.
    const body = (path: string) => doc.paths[path].post.requestBody.content['application/json'].schema;
    expect(Object.keys(body('/api/v1/auth/password/forgot').properties)).toEqual(['email']);
    expect(Object.keys(body('/api/v1/auth/password/reset').properties).sort()).toEqual(['password', 'token']);
    expect(Object.keys(body('/api/v1/auth/register').properties)).not.toContain('hint');
  });

  it('does not sign in after a reset and still asks for the second factor [ASVS 6.4.3]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const owner = client();
    await owner.signIn(address, PASSWORD);
    const { secret } = (await owner.post('/auth/mfa/totp/setup')).json();
    expect((await owner.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) })).statusCode).toBe(200);

    expect((await client().post('/auth/password/forgot', { email: address })).statusCode).toBe(202);
    const token = tokenFrom((await sink.next(address, /Reset your Bastion password/)).text);
    const attacker = client();
    const reset = await attacker.post('/auth/password/reset', { token, password: NEW_PASSWORD });
    expect(reset.statusCode).toBe(200);
    expect(attacker.sessionCookie, 'a reset signs nobody in').toBeUndefined();
    expect((await attacker.get('/me')).statusCode).toBe(401);

    const step1 = await attacker.post('/auth/login', { email: address, password: NEW_PASSWORD });
    expect(step1.statusCode).toBe(200);
    expect(step1.json()).toMatchObject({ mfaRequired: true });
    expect(attacker.sessionCookie, 'the password alone gives no session').toBeUndefined();
    clock.advance(60_000);
    const wrong = await attacker.post('/auth/login/mfa', { mfaToken: step1.json().mfaToken, code: '000000' });
    expect(wrong.statusCode).toBe(401);
    expect((await attacker.get('/me')).statusCode).toBe(401);
  });
});
