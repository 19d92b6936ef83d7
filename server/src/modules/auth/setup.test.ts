/**
 * First-run setup: the one-time link in the log creates the first administrator, once,
 * even when several links are used at the same moment; nothing else can.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser, PASSWORD } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { buildTestApp, LogCapture, testDatabase, waitFor, type TestApp } from '../../../test/harness.js';
import { yieldingDatabase } from '../../../test/io-yield.js';
import { burst } from '../../../test/parallel.js';
import { ManualClock } from '../../platform/clock.js';
import { issueSetupLink, SETUP_LINK_TTL_MS } from './setup.js';

const clock = new ManualClock();
const logs = new LogCapture();
let t: TestApp;
const BROWSER = { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' };

beforeAll(async () => {
  t = await buildTestApp({ clock, logs, database: yieldingDatabase(await testDatabase()), env: { REQUIRE_MFA: 'admins', RATE_LIMIT_SCALE: '1', PRIVACY_JOB_INTERVAL_SECONDS: '0' } });
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  await testDatabase();
  clock.advance(24 * 60 * 60 * 1000); // rate limits of earlier tests are over
});

const deps = () => t.app.accounts.authDeps;
const tokenOf = (link: string): string => new URLSearchParams(new URL(link).hash.slice(1)).get('token')!;
const admins = async () => (await t.database.db.selectFrom('users').select('email').where('role', '=', 'admin').execute()).map((r) => r.email);
const setup = (token: string, email = 'first-admin@example.org', password = PASSWORD) => new BrowserClient(t.app).post('/auth/setup', { token, email, name: 'Ada Admin', password });

describe('first-run setup', () => {
  it('logs a setup link once the server listens, and the link makes a signed-in administrator', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    expect(await waitFor(async () => logs.text.includes('Set up Bastion'), 5_000)).toBe(true);
    const line = logs.records().find((r) => String(r.msg).includes('Set up Bastion'))!;
    const link = /(http\S+\/setup#token=bst_setup_[\w-]{43})/.exec(String(line.msg))?.[1];
    expect(link, String(line.msg)).toBeDefined();
    expect(line.level).toBe(40); // warn: seen at the default log levels

    const browser = new BrowserClient(t.app);
    expect((await browser.get('/auth/options')).json().setupRequired).toBe(true);
    const response = await browser.post('/auth/setup', { token: tokenOf(link!), email: 'Ada@Example.org', name: 'Ada Admin', password: PASSWORD });
    expect(response.statusCode, response.body).toBe(200);
    const me = (await browser.get('/me')).json();
    expect(me).toMatchObject({ email: 'ada@example.org', role: 'admin', emailVerified: true, mfaEnrollmentRequired: true });
    expect((await browser.get('/auth/options')).json().setupRequired).toBe(false);
    // Once an administrator exists no link is issued, so none is logged again.
    expect(await issueSetupLink(deps())).toBeUndefined();
    const events = await t.database.db.selectFrom('security_events').select('type').where('type', '=', 'auth.first_admin_created').execute();
    expect(events).toHaveLength(1);
  });

  it('makes exactly one administrator when several links are used at once', async () => {
    // Two instances started: each logged its own link.
    const tokens = [tokenOf((await issueSetupLink(deps()))!), tokenOf((await issueSetupLink(deps()))!)];
    const responses = await burst(
      t.app,
      Array.from({ length: 6 }, (_, i) => ({ method: 'POST' as const, url: '/api/v1/auth/setup', headers: BROWSER, body: { token: tokens[i % 2], email: `admin-${i}@example.org`, name: 'Racer', password: PASSWORD } })),
    );
    const ok = responses.filter((r) => r.statusCode === 200);
    expect(ok, responses.map((r) => `${r.statusCode} ${r.body.slice(0, 100)}`).join('\n')).toHaveLength(1);
    for (const refused of responses.filter((r) => r.statusCode !== 200)) expect(refused.json<{ error: { code: string } }>().error.code).toBe('invalid_token');
    expect(await admins()).toHaveLength(1);
    // The other link died with the first use.
    expect((await setup(tokens[0]!, 'late@example.org')).statusCode).toBe(400);
    expect((await setup(tokens[1]!, 'late@example.org')).statusCode).toBe(400);
  }, 60_000);

  it('refuses a wrong, expired or reused token, and a weak password without spending the link', async () => {
    const token = tokenOf((await issueSetupLink(deps()))!);
    const wrong = await setup(`bst_setup_${'A'.repeat(43)}`);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatchObject({ code: 'invalid_token' });
    expect(wrong.body).not.toContain(token);

    const weak = await setup(token, 'first-admin@example.org', 'short');
    expect(weak.statusCode).toBe(400);
    expect(await admins()).toEqual([]);
    expect((await setup(token)).statusCode).toBe(200); // the weak attempt did not spend it
    expect((await setup(token, 'second@example.org')).statusCode).toBe(400);
    expect(await admins()).toEqual(['first-admin@example.org']);

    await testDatabase();
    const old = tokenOf((await issueSetupLink(deps()))!);
    clock.advance(SETUP_LINK_TTL_MS + 1000);
    expect((await setup(old)).json().error).toMatchObject({ code: 'invalid_token' });
    expect(await admins()).toEqual([]);
  }, 60_000);

  it('is closed once an administrator exists, whatever the token', async () => {
    const token = tokenOf((await issueSetupLink(deps()))!);
    await createUser(t.database, { email: 'cli-admin@example.org', role: 'admin' });
    const response = await setup(token);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/already set up/);
    expect(await admins()).toEqual(['cli-admin@example.org']);
  });

  it('is rate-limited like sign-in: guessing from one address is cut short', async () => {
    const guesser = new BrowserClient(t.app);
    const codes: number[] = [];
    for (let i = 0; i < 100 && !codes.includes(429); i++) codes.push((await guesser.post('/auth/setup', { token: `bst_setup_${String(i).padStart(43, 'x')}`, email: 'x@example.org', name: 'X', password: PASSWORD })).statusCode);
    expect(codes.at(-1)).toBe(429);
    expect(codes.length).toBeLessThanOrEqual(25); // the auth budget: 20 a minute
  }, 60_000);
});
