/**
 * ASVS 5.0 V6.5 properties of the second factor that had no attack test: the seeds and
 * recovery codes come from a CSPRNG with enough entropy, and codes live 30 seconds.
 * Through the HTTP API of the real app.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../accounts.js';
import { BrowserClient, randomIp } from '../../browser-client.js';
import { totpAt } from '../../../src/modules/auth/totp.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none' });
const { clock } = fixture;
let n = 0;

/** Signs a new person in and starts enrolment; returns the browser and the setup answer. */
async function startEnrolment(): Promise<{ browser: BrowserClient; secret: string; otpauthUri: string }> {
  const address = `asvs-mfa${++n}@example.org`;
  await createUser(fixture.t.database, { email: address });
  const browser = new BrowserClient(fixture.t.app, undefined, undefined, randomIp());
  expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
  const setup = await browser.post('/auth/mfa/totp/setup');
  expect(setup.statusCode, setup.body).toBe(200);
  return { browser, ...(setup.json() as { secret: string; otpauthUri: string }) };
}

describe('second-factor secrets', () => {
  it('gives every enrolment its own 160-bit seed and distinct ~78-bit recovery codes [ASVS 6.5.3, 11.5.1]', async () => {
    const seeds = new Set<string>();
    const codes = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { browser, secret, otpauthUri } = await startEnrolment();
      // Base32: 5 bits a character, so 32 characters are 160 bits (RFC 4226 §4 asks ≥ 128).
      expect(secret).toMatch(/^[A-Z2-7]{32,}$/);
      expect(new URL(otpauthUri).searchParams.get('secret')).toBe(secret);
      seeds.add(secret);
      const confirm = await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) });
      expect(confirm.statusCode, confirm.body).toBe(200);
      for (const code of confirm.json().recoveryCodes as string[]) {
        expect(code).toMatch(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/); // 16 of 30 symbols: log2(30^16) ≈ 78 bits
        codes.add(code);
      }
    }
    expect(seeds.size, 'a seed repeated across enrolments').toBe(5);
    expect(codes.size, 'a recovery code repeated').toBe(50);
    // Not one seed's characters dominate (a constant or counter-based seed would).
    const counts = new Map<string, number>();
    for (const char of [...seeds].join('')) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThan(40);
  });

  it('accepts a code for 30 seconds (one step of drift either side), never longer [ASVS 6.5.5]', async () => {
    const { browser, secret, otpauthUri } = await startEnrolment();
    const period = new URL(otpauthUri).searchParams.get('period');
    expect(period === null || Number(period) <= 30, `period=${period}`).toBe(true); // absent means RFC 6238's 30 s
    // A code from three steps (90 s) ago is refused at enrolment; the current one works.
    const stale = await totpAt(secret, new Date(clock.now().getTime() - 90_000));
    const current = await totpAt(secret, clock.now());
    if (stale !== current) expect((await browser.post('/auth/mfa/totp/confirm', { code: stale })).statusCode).toBe(401);
    expect((await browser.post('/auth/mfa/totp/confirm', { code: current })).statusCode).toBe(200);
  });
});
