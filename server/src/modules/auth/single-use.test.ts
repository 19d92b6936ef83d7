/**
 * Single-use tokens under concurrency: each token is fired N times at once over real
 * HTTP (test/parallel.ts) and must work exactly once — password reset, invitation,
 * email verification, "this wasn't me", recovery code and data-export download.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom } from '../../../test/accounts.js';
import { apiUser } from '../../../test/api-client.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { buildTestApp, testDatabase, waitFor, type TestApp } from '../../../test/harness.js';
import { yieldingDatabase } from '../../../test/io-yield.js';
import { burst, type BurstRequest, type BurstResponse } from '../../../test/parallel.js';
import { enrolTotp, person } from '../../../test/privacy-fixtures.js';
import { SmtpSink } from '../../../test/smtp-sink.js';
import { ManualClock } from '../../platform/clock.js';
import { generateToken } from '../../platform/crypto/tokens.js';
import type { AuthTokenKind } from '../../domain/accounts.js';
import { verifyPassword } from './passwords.js';
import { insertAuthToken } from './tokens-repo.js';
import { totpAt } from './totp.js';

const N = 6;
const clock = new ManualClock();
const sink = new SmtpSink();
let app: TestApp | undefined;
const t = (): TestApp => {
  if (!app) throw new Error('app not started');
  return app;
};

beforeAll(async () => {
  // The yielding database lets requests interleave on PGlite too (test/io-yield.ts).
  app = await buildTestApp({
    clock,
    smtpUrl: await sink.start(),
    database: yieldingDatabase(await testDatabase()),
    env: { REQUIRE_MFA: 'none', RATE_LIMIT_SCALE: '20', PRIVACY_JOB_INTERVAL_SECONDS: '0' },
  });
});
afterAll(async () => {
  await app?.close();
  await sink.stop();
});
beforeEach(async () => {
  await testDatabase();
  clock.advance(24 * 60 * 60 * 1000); // throttles and locks of earlier tests are over
});

/** What a same-origin browser page sends with a public POST. */
const BROWSER = { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' };

function times(request: (index: number) => BurstRequest): BurstRequest[] {
  return Array.from({ length: N }, (_, index) => request(index));
}

/** Exactly one request succeeded; every other one was refused with `status` and `code`. */
function expectOnce(responses: BurstResponse[], status: number, code: string): BurstResponse {
  const ok = responses.filter((r) => r.statusCode === 200);
  expect(
    ok.map((r) => r.statusCode),
    responses.map((r) => `${r.statusCode} ${r.body.slice(0, 120)}`).join('\n'),
  ).toEqual([200]);
  for (const refused of responses.filter((r) => r.statusCode !== 200)) {
    expect(refused.statusCode, refused.body).toBe(status);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe(code);
  }
  return ok[0]!;
}

/** An auth token issued as the app does (only the hash stored); the issuing flows are tested elsewhere. */
async function issue(kind: AuthTokenKind, userId: string, prefix: string): Promise<string> {
  const { token, hash } = generateToken(prefix);
  const now = clock.now();
  await insertAuthToken(t().database.db, { id: randomUUID(), user_id: userId, kind, token_hash: hash, email: null, created_at: now, expires_at: new Date(now.getTime() + 30 * 60_000), payload: null });
  return token;
}

describe('single-use tokens fired in parallel', () => {
  it('resets a password once: one new password wins, the other requests are refused [ASVS 6.4.1]', async () => {
    const address = `reset-${randomUUID()}@example.org`;
    await createUser(t().database, { email: address });
    expect((await new BrowserClient(t().app).post('/auth/password/forgot', { email: address })).statusCode).toBe(202);
    const token = tokenFrom((await sink.next(address, /Reset your Bastion password/)).text);
    const passwords = Array.from({ length: N }, (_, i) => `amber lighthouse hums softly ${i}`);

    const responses = await burst(
      t().app,
      times((i) => ({ method: 'POST', url: '/api/v1/auth/password/reset', headers: BROWSER, body: { token, password: passwords[i] } })),
    );
    const winner = responses.indexOf(expectOnce(responses, 400, 'invalid_token'));
    // The password in force is the winner's: no refused request overwrote it.
    const { password_hash: hash } = await t().database.db.selectFrom('users').select('password_hash').where('email', '=', address).executeTakeFirstOrThrow();
    for (const [i, password] of passwords.entries()) expect(await verifyPassword(hash, password), `password ${i}, winner ${winner}`).toBe(i === winner);
  }, 60_000);

  it('accepts an invitation once', async () => {
    const owner = await apiUser(t());
    const workspace = (await owner.post('/workspaces', { name: 'Team' })).json();
    const invitee = await apiUser(t());
    expect((await owner.post(`/workspaces/${workspace.id}/invitations`, { email: invitee.email, role: 'member' })).statusCode).toBe(201);
    const token = tokenFrom((await sink.next(invitee.email, /invited to the Bastion workspace/)).text);

    const responses = await burst(
      t().app,
      times(() => ({ method: 'POST', url: '/api/v1/workspaces/invitations/accept', headers: invitee.headers(), body: { token } })),
    );
    expectOnce(responses, 400, 'invalid_token');
    const accepted = await t().database.db.selectFrom('workspace_invitations').select('accepted_at').where('workspace_id', '=', workspace.id).execute();
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.accepted_at).not.toBeNull();
  }, 30_000);

  it('verifies an email address once', async () => {
    const userId = await createUser(t().database, { email: `verify-${randomUUID()}@example.org`, verified: false });
    const token = await issue('verify_email', userId, 'verify');
    const responses = await burst(
      t().app,
      times(() => ({ method: 'POST', url: '/api/v1/auth/verify-email', headers: BROWSER, body: { token } })),
    );
    expectOnce(responses, 400, 'invalid_token');
    const user = await t().database.db.selectFrom('users').select('email_verified_at').where('id', '=', userId).executeTakeFirstOrThrow();
    expect(user.email_verified_at).not.toBeNull();
  }, 30_000);

  it('disowns a sign-in once ("this wasn’t me")', async () => {
    const address = `notme-${randomUUID()}@example.org`;
    const userId = await createUser(t().database, { email: address });
    const token = await issue('not_me', userId, 'notme');
    const responses = await burst(
      t().app,
      times(() => ({ method: 'POST', url: '/api/v1/auth/not-me', headers: BROWSER, body: { token } })),
    );
    expectOnce(responses, 400, 'invalid_token');
    // One disowning: one event, one reset link.
    const events = await t().database.db.selectFrom('security_events').select('type').where('user_id', '=', userId).where('type', '=', 'auth.sign_in_disowned').execute();
    expect(events).toHaveLength(1);
    await sink.next(address, /Reset your Bastion password/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.mails.filter((m) => m.to === address)).toEqual([]); // next() took the one mail
  }, 30_000);

  it('signs in at most once with one recovery code, each request on its own second step [ASVS 6.5.1]', async () => {
    const p = await person(t(), 'recovery');
    const secret = await enrolTotp(p, clock);
    clock.advance(31_000); // the next TOTP step: a code is accepted once
    const codes = (await p.browser.post('/auth/mfa/recovery-codes', { code: await totpAt(secret, clock.now()) })).json().recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    // N password steps, each with its own mfaToken: only the recovery code is shared.
    const mfaTokens: string[] = [];
    for (let i = 0; i < N; i++) {
      const step = await new BrowserClient(t().app).post('/auth/login', { email: p.email, password: PASSWORD });
      expect(step.json().mfaRequired, step.body).toBe(true);
      mfaTokens.push(step.json().mfaToken as string);
    }
    const responses = await burst(
      t().app,
      times((i) => ({ method: 'POST', url: '/api/v1/auth/login/mfa', headers: BROWSER, body: { mfaToken: mfaTokens[i], code: codes[0] } })),
    );
    const ok = responses.filter((r) => r.statusCode === 200);
    expect(ok.length, responses.map((r) => `${r.statusCode} ${r.body.slice(0, 120)}`).join('\n')).toBeLessThanOrEqual(1);
    // The others are refused as a wrong code, or by the sign-in throttle once failures pile up.
    for (const refused of responses.filter((r) => r.statusCode !== 200)) expect([401, 429], refused.body).toContain(refused.statusCode);
    const unused = await t().database.db.selectFrom('recovery_codes').select('id').where('user_id', '=', p.id).where('used_at', 'is', null).execute();
    expect(unused).toHaveLength(10 - ok.length);
    const sessions = await t().database.db.selectFrom('sessions').select('id').where('user_id', '=', p.id).where('revoked_at', 'is', null).execute();
    expect(sessions).toHaveLength(1 + ok.length); // the enrolling browser's, and the winner's
  }, 60_000);

  it('lets a data export be downloaded once', async () => {
    const p = await person(t(), 'export');
    const started = await p.browser.post('/me/export');
    expect(started.statusCode, started.body).toBe(202);
    const id = started.json().id as string;
    const token = tokenFrom((await sink.next(p.email, /data export is ready/)).text);
    expect(await waitFor(async () => (await p.browser.get('/me/exports')).json().exports[0].status === 'ready', 5_000)).toBe(true);
    const headers = { ...BROWSER, cookie: [...p.browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': p.browser.csrf! };

    const responses = await burst(
      t().app,
      times(() => ({ method: 'POST', url: `/api/v1/me/exports/${id}/download`, headers, body: { token } })),
    );
    const winner = expectOnce(responses, 410, 'export_expired');
    expect(winner.headers['content-type']).toBe('application/zip');
    const row = await t().database.db.selectFrom('data_exports').select(['status', 'archive']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'downloaded', archive: null });
  }, 30_000);
});
