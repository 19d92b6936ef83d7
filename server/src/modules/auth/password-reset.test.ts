/** Password reset and change, and the suspicious sign-in mail with "this wasn't me". */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none' });
const { sink, clock } = fixture;
let n = 0;
const email = () => `reset${++n}@example.org`;
const NEW_PASSWORD = 'amber lighthouse hums softly';

async function requestReset(address: string): Promise<string> {
  const response = await new BrowserClient(fixture.t.app).post('/auth/password/forgot', { email: address });
  expect(response.statusCode).toBe(202);
  return tokenFrom((await sink.next(address, /Reset your Bastion password/)).text);
}

describe('password reset (ASVS 6.4.1)', () => {
  it('resets with a single-use link, ends every session and tells the owner [ASVS 6.4.1, 7.4.3]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const signedIn = new BrowserClient(fixture.t.app);
    await signedIn.signIn(address, PASSWORD);
    const token = await requestReset(address);
    const reset = await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token, password: NEW_PASSWORD });
    expect(reset.statusCode).toBe(200);
    expect(reset.headers['referrer-policy']).toBe('no-referrer');
    await sink.next(address, /password was changed/);
    expect((await signedIn.get('/me')).statusCode).toBe(401);
    expect((await new BrowserClient(fixture.t.app).signIn(address, PASSWORD)).statusCode).toBe(401);
    expect((await new BrowserClient(fixture.t.app).signIn(address, NEW_PASSWORD)).statusCode).toBe(200);
    const reuse = await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token, password: 'yet another calm river bend' });
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json().error.code).toBe('invalid_token');
  });

  it('expires links after 30 minutes and lets only the newest link work [ASVS 6.4.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const expired = await requestReset(address);
    clock.advance(31 * 60_000);
    expect((await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token: expired, password: NEW_PASSWORD })).statusCode).toBe(400);
    const older = await requestReset(address);
    const newer = await requestReset(address);
    expect((await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token: older, password: NEW_PASSWORD })).statusCode).toBe(400);
    expect((await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token: newer, password: NEW_PASSWORD })).statusCode).toBe(200);
  });

  it('answers the same for unknown emails and sends nothing [ASVS 6.3.8]', async () => {
    const ghost = email();
    const response = await new BrowserClient(fixture.t.app).post('/auth/password/forgot', { email: ghost });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ status: 'sent_if_registered' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.mails.filter((m) => m.to === ghost)).toEqual([]);
  });

  it('rate-limits reset requests per email', async () => {
    const ghost = email();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await new BrowserClient(fixture.t.app, undefined, undefined, `10.9.0.${i}`).post('/auth/password/forgot', { email: ghost })).statusCode);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429]);
  });

  it('still refuses a weak new password', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address, name: 'Grace Hopper' });
    const token = await requestReset(address);
    const weak = await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token, password: 'grace hopper rocks!!' });
    expect(weak.json().error).toMatchObject({ code: 'weak_password', details: [{ message: 'personal' }] });
    expect((await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token, password: NEW_PASSWORD })).statusCode).toBe(200);
  });
});

describe('password change', () => {
  it('needs the current password, keeps this session under a new id and ends the others [ASVS 7.2.4, 7.4.3, 7.5.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const here = new BrowserClient(fixture.t.app);
    const elsewhere = new BrowserClient(fixture.t.app);
    await here.signIn(address, PASSWORD);
    await elsewhere.signIn(address, PASSWORD);
    expect((await here.post('/auth/password/change', { currentPassword: 'wrong current password', newPassword: NEW_PASSWORD })).statusCode).toBe(401);
    const before = here.sessionCookie;
    expect((await here.post('/auth/password/change', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).statusCode).toBe(200);
    expect(here.sessionCookie).not.toBe(before);
    expect((await here.get('/me')).statusCode).toBe(200);
    expect((await elsewhere.get('/me')).statusCode).toBe(401);
    await sink.next(address, /password was changed/);
  });
});

describe('suspicious sign-in', () => {
  it('mails a new-device, new-network sign-in with a link that ends sessions and forces a reset', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const usual = new BrowserClient(fixture.t.app, undefined, 'Usual Laptop Firefox', '10.1.1.20');
    for (let i = 0; i < 3; i++) {
      clock.advance(60 * 60_000);
      expect((await usual.signIn(address, PASSWORD)).statusCode).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.mails.filter((m) => m.to === address)).toEqual([]); // familiar sign-ins are quiet

    const intruder = new BrowserClient(fixture.t.app, undefined, 'Unknown Device curl', '203.0.113.50');
    expect((await intruder.signIn(address, PASSWORD)).statusCode).toBe(200);
    const mail = await sink.next(address, /New sign-in/);
    expect(mail.text).toContain('203.0.113.50');
    expect(mail.text).toMatch(/new_device, new_network/);
    const events = await fixture.t.database.db.selectFrom('security_events').select('type').where('type', '=', 'auth.suspicious_sign_in').execute();
    expect(events).toHaveLength(1);

    expect((await new BrowserClient(fixture.t.app).post('/auth/not-me', { token: tokenFrom(mail.text) })).statusCode).toBe(200);
    expect((await intruder.get('/me')).statusCode).toBe(401);
    expect((await usual.get('/me')).statusCode).toBe(401);
    const blocked = await new BrowserClient(fixture.t.app).post('/auth/login', { email: address, password: PASSWORD });
    expect(blocked.json().error.code).toBe('password_reset_required');
    const token = tokenFrom((await sink.next(address, /Reset your Bastion password/)).text);
    expect((await new BrowserClient(fixture.t.app).post('/auth/password/reset', { token, password: NEW_PASSWORD })).statusCode).toBe(200);
    expect((await new BrowserClient(fixture.t.app, undefined, 'Usual Laptop Firefox', '10.1.1.20').signIn(address, NEW_PASSWORD)).statusCode).toBe(200);
  });
});
