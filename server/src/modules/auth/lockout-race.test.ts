/**
 * The lockout under parallel guessing: every attempt reserves its verification before
 * the password or code is checked, so a burst of guesses released at once over real HTTP
 * gets at most LOCKOUT_THRESHOLD verifications, and the right secret arriving after the
 * threshold is refused. (A check made before any of them counted let all 19 through.)
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { burst, type BurstResponse } from '../../../test/parallel.js';
import { totpAt } from './totp.js';

const THRESHOLD = 5;
// The route class limit (auth: 20/min per address) would answer for the throttle: scale it away.
const fixture = useAccountsApp({ REGISTRATION: 'open', REQUIRE_MFA: 'none', LOCKOUT_THRESHOLD: String(THRESHOLD), RATE_LIMIT_SCALE: '100' });
const { clock } = fixture;
let n = 0;
const email = () => `racer${++n}@example.org`;
const headers = { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin' };

/** Statuses that mean the secret was checked: 401 (wrong) or 200 (right). */
function verifications(responses: BurstResponse[]): number {
  return responses.filter((r) => r.statusCode === 401 || r.statusCode === 200).length;
}

function refusedWithoutWork(responses: BurstResponse[]): boolean {
  return responses.filter((r) => r.statusCode === 429).every((r) => ['account_locked', 'rate_limited'].includes(r.json<{ error: { code: string } }>().error.code));
}

describe('lockout under parallel attempts', () => {
  it(`verifies at most ${THRESHOLD} of 20 parallel passwords and refuses the right one after them (5 trials) [ASVS 6.3.1]`, async () => {
    for (let trial = 0; trial < 5; trial++) {
      const address = email();
      await createUser(fixture.t.database, { email: address });
      const guesses = Array.from({ length: 19 }, (_, i) => ({ email: address, password: `wrong guess ${trial}-${i}` }));
      const responses = await burst(
        fixture.t.app,
        [...guesses, { email: address, password: PASSWORD }].map((body) => ({ method: 'POST', url: '/api/v1/auth/login', headers, body })),
      );
      expect(verifications(responses), `trial ${trial}: ${responses.map((r) => r.statusCode).join(',')}`).toBeLessThanOrEqual(THRESHOLD);
      expect(responses.filter((r) => r.statusCode === 429).length).toBeGreaterThanOrEqual(20 - THRESHOLD);
      expect(refusedWithoutWork(responses)).toBe(true);
      if (responses[19]!.statusCode !== 200) {
        // Five wrong guesses were verified: the account is locked, even for the right password.
        const late = await new BrowserClient(fixture.t.app).post('/auth/login', { email: address, password: PASSWORD });
        expect(late.statusCode).toBe(429);
        expect(late.json().error.code).toBe('account_locked');
      }
    }
  });

  it(`verifies at most ${THRESHOLD} of 10 parallel second-factor codes, then refuses the right code [ASVS 6.6.3]`, async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = new BrowserClient(fixture.t.app);
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    const { secret } = (await browser.post('/auth/mfa/totp/setup')).json();
    expect((await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) })).statusCode).toBe(200);
    clock.advance(60_000); // the enrolment code's step is spent

    const first = await new BrowserClient(fixture.t.app).post('/auth/login', { email: address, password: PASSWORD });
    const { mfaToken } = first.json();
    // Bursts until the account locks (the progressive delay may stop a burst early; wait it out).
    let verified = 0;
    for (let round = 0; round < 4; round++) {
      const right = await totpAt(secret, clock.now());
      const wrong = Array.from({ length: 10 }, (_, i) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0'));
      const responses = await burst(
        fixture.t.app,
        wrong.map((code) => ({ method: 'POST', url: '/api/v1/auth/login/mfa', headers, body: { mfaToken, code } })),
      );
      verified += verifications(responses);
      expect(verified, responses.map((r) => r.statusCode).join(',')).toBeLessThanOrEqual(THRESHOLD);
      expect(refusedWithoutWork(responses)).toBe(true);
      if (responses.some((r) => r.statusCode === 429 && r.json<{ error: { code: string } }>().error.code === 'account_locked')) break;
      clock.advance(61_000);
    }
    expect(verified).toBe(THRESHOLD);
    const late = await new BrowserClient(fixture.t.app).post('/auth/login/mfa', { mfaToken, code: await totpAt(secret, clock.now()) });
    expect(late.statusCode).toBe(429);
    expect(late.json().error.code).toBe('account_locked');
  });

  it('accepts one TOTP code once, even when it arrives in parallel on several sign-ins [ASVS 6.5.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = new BrowserClient(fixture.t.app);
    await browser.signIn(address, PASSWORD);
    const { secret } = (await browser.post('/auth/mfa/totp/setup')).json();
    await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) });
    clock.advance(60_000);
    const mfaTokens: string[] = [];
    for (let i = 0; i < 4; i++) mfaTokens.push((await new BrowserClient(fixture.t.app).post('/auth/login', { email: address, password: PASSWORD })).json().mfaToken);
    const code = await totpAt(secret, clock.now());
    const responses = await burst(
      fixture.t.app,
      mfaTokens.map((mfaToken) => ({ method: 'POST', url: '/api/v1/auth/login/mfa', headers, body: { mfaToken, code } })),
    );
    expect(
      responses.filter((r) => r.statusCode === 200),
      responses.map((r) => r.statusCode).join(','),
    ).toHaveLength(1);
  });

  it('counts a right password before the code as no failure: a person who knows it gets only the codes left', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = new BrowserClient(fixture.t.app);
    await browser.signIn(address, PASSWORD);
    const { secret } = (await browser.post('/auth/mfa/totp/setup')).json();
    await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) });
    // Password right, code wrong, again and again: the codes lock the account at the threshold.
    const statuses: number[] = [];
    for (let i = 0; i < THRESHOLD + 1; i++) {
      clock.advance(60_000); // past the progressive delay
      const step = await new BrowserClient(fixture.t.app).post('/auth/login', { email: address, password: PASSWORD });
      if (step.statusCode !== 200) {
        statuses.push(step.statusCode);
        continue;
      }
      statuses.push((await new BrowserClient(fixture.t.app).post('/auth/login/mfa', { mfaToken: step.json().mfaToken, code: '000000' })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });
});
