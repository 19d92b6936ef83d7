/**
 * POST /auth/password/check: the strength meter's verdict is the policy's own
 * (checkPassword, which registration and resets enforce), hostile bodies are refused,
 * the route is rate limited in its own class, and the password never reaches the logs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser, PASSWORD } from '../../../test/accounts.js';
import { BrowserClient, randomIp } from '../../../test/browser-client.js';
import { buildTestApp, LogCapture, testDatabase, type TestApp } from '../../../test/harness.js';
import { ManualClock } from '../../platform/clock.js';
import { assertPasswordAcceptable, checkPassword } from './passwords.js';

const logs = new LogCapture();
const clock = new ManualClock();
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp({ logs, clock, env: { REGISTRATION: 'open', REQUIRE_MFA: 'none', PASSWORD_MIN_LENGTH: '15' } });
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await testDatabase();
  clock.advance(24 * 60 * 60 * 1000); // rate-limit windows from earlier tests are over
});

const check = (body: unknown, browser = new BrowserClient(t.app)) => browser.post('/auth/password/check', body);

describe('checkPassword', () => {
  const who = { email: 'ada.lovelace@example.org', name: 'Ada Lovelace', minLength: 15 };

  it.each(['short', 'passwordpassword', 'ada.lovelace tractor dawn 42', 'aaaaaaaaaaaaaaaaaaaa', 'x'.repeat(1_025), PASSWORD])('agrees with assertPasswordAcceptable on %s', (password) => {
    const verdict = checkPassword(password, who);
    let thrown: string | undefined;
    try {
      assertPasswordAcceptable(password, who);
    } catch (error) {
      thrown = (error as { details?: { message: string }[] }).details?.[0]?.message;
    }
    expect(verdict.ok ? undefined : verdict.rule).toBe(thrown);
    expect(verdict.score).toBeGreaterThanOrEqual(0);
    expect(verdict.score).toBeLessThanOrEqual(verdict.ok ? 4 : 2);
  });
});

describe('POST /auth/password/check', () => {
  it('answers the verdict of the registration rules, with the rule and how to fix it', async () => {
    const cases: [string, string | undefined][] = [
      ['Tr0ub4dor&3', 'too_short'],
      ['passwordpassword', 'common'],
      ['ada.lovelace tractor dawn 42', 'personal'],
      ['qwertyuiopasdfghjkl', 'guessable'],
      [PASSWORD, undefined],
    ];
    for (const [password, rule] of cases) {
      const response = await check({ password, email: 'ada.lovelace@example.org', name: 'Ada Lovelace' });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.rule).toBe(rule);
      expect(body.ok).toBe(rule === undefined);
      if (rule) expect(body.message).toMatch(/\w/);
      else expect(body.score).toBeGreaterThanOrEqual(3);
    }
  });

  it('judges personal information by the account when signed in', async () => {
    const address = 'grace.hopper@example.org';
    await createUser(t.database, { email: address, name: 'Grace Hopper' });
    const browser = new BrowserClient(t.app);
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    const response = await check({ password: 'grace hopper sails the harbour', name: 'Someone Else' }, browser);
    expect(response.json()).toMatchObject({ ok: false, rule: 'personal' });
  });

  it('refuses hostile bodies with validation_failed and echoes nothing back', async () => {
    const long = 'violet tractor '.repeat(140).slice(0, 2_000);
    for (const body of [{}, { email: 'a@example.org' }, { password: long }, { password: 42 }, { password: ['a'] }, { password: PASSWORD, email: 7 }, { password: PASSWORD, role: 'admin' }, { password: '' }]) {
      const response = await check(body);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
      expect(response.body).not.toContain('violet tractor');
    }
  });

  it('is rate limited per IP in its own class, so typing never uses up sign-in attempts [ASVS 2.4.1]', async () => {
    const browser = new BrowserClient(t.app, undefined, undefined, randomIp());
    const statuses: number[] = [];
    // GCRA refills one request per second: on a loaded machine the loop may take a few, so
    // the refusal comes at the 61st request or a little after — never before.
    for (let i = 0; i < 70 && statuses.at(-1) !== 429; i++) statuses.push((await check({ password: `candidate number ${i}` }, browser)).statusCode);
    expect(statuses.slice(0, 60).every((status) => status === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    expect((await check({ password: 'another candidate' }, browser)).json().error.code).toBe('rate_limited');
    expect((await check({ password: 'another candidate' })).statusCode).toBe(200); // another IP is not affected
  });

  it('never writes the password to the logs [ASVS 16.2.5]', async () => {
    const secret = 'unmistakable lantern quokka 7731';
    expect((await check({ password: secret })).statusCode).toBe(200);
    expect((await check({ password: secret, extra: true })).statusCode).toBe(400);
    expect(logs.text).toContain('/auth/password/check');
    expect(logs.text).not.toContain('lantern quokka');
  });
});

describe('GET /auth/options', () => {
  it('tells the sign-in page the registration mode and whether SSO is configured', async () => {
    const response = await new BrowserClient(t.app).get('/auth/options');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      registration: 'open',
      sso: false,
      passwordMinLength: 15,
      setupRequired: true,
      uploads: { maxBytes: expect.any(Number), maxBytesSetting: 'UPLOAD_MAX_BYTES', types: expect.arrayContaining([expect.objectContaining({ kind: 'pdf', extensions: ['pdf'] })]) },
    });
  });
});
