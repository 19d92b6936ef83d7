/**
 * The MFA gate decides on each caller's gate state (role, TOTP, disabled), cached in every
 * instance so a signed-in request needs no users query. A change of TOTP made on one
 * instance must count on the very next request to the other — in the direction that
 * locks out (TOTP turned off: an administrator must enrol again before anything else)
 * as in the one that lets in (TOTP confirmed).
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import type { TestApp } from '../../../test/harness.js';
import { sameBrowserOn, useTwoInstances } from '../../../test/instances.js';
import { totpAt } from '../auth/totp.js';

const instances = useTwoInstances({ REQUIRE_MFA: 'admins' });

const gateHits = (t: TestApp): number => t.app.core.cacheStats.snapshot().user_gate_state?.hits ?? 0;

/** Reads on the instance until its cache serves the caller's gate state (its broadcast subscription may still be connecting). */
async function warm(t: TestApp, browser: BrowserClient, status: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const before = gateHits(t);
    expect((await browser.get('/workspaces')).statusCode).toBe(status);
    if (gateHits(t) > before) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the gate state was never served from the cache');
}

async function signedInAdmin(): Promise<{ userId: string; onA: BrowserClient }> {
  const email = `gate-${crypto.randomUUID()}@example.org`;
  const userId = await createUser(instances.a.database, { email, role: 'admin' });
  const onA = new BrowserClient(instances.a.app);
  expect((await onA.signIn(email, PASSWORD)).statusCode).toBe(200);
  return { userId, onA };
}

async function enrol(browser: BrowserClient): Promise<string[]> {
  const { secret } = (await browser.post('/auth/mfa/totp/setup')).json<{ secret: string }>();
  const confirmed = await browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, new Date()) });
  expect(confirmed.statusCode, confirmed.body).toBe(200);
  await browser.loadCsrf();
  return confirmed.json<{ recoveryCodes: string[] }>().recoveryCodes;
}

describe('gate state across instances', () => {
  it('opens the routes on every instance as soon as TOTP is confirmed on one', async () => {
    const { onA } = await signedInAdmin();
    await warm(instances.b, sameBrowserOn(instances.b, onA), 403);
    await enrol(onA);
    expect((await sameBrowserOn(instances.b, onA).get('/workspaces')).statusCode).toBe(200);
  });

  it('locks an administrator out on every instance as soon as TOTP is turned off on one [ASVS 6.3.3]', async () => {
    const { onA } = await signedInAdmin();
    const [recoveryCode] = await enrol(onA);
    const onB = sameBrowserOn(instances.b, onA);
    await warm(instances.b, onB, 200);
    const off = await onA.post('/auth/mfa/totp/disable', { password: PASSWORD, code: recoveryCode });
    expect(off.statusCode, off.body).toBe(200);
    // The session lives on (turning TOTP off is no sign-out): only the gate stands in the way.
    const refused = await onB.post('/workspaces', { name: 'After' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('mfa_enrollment_required');
  });

  it('gates the API key of an administrator whose TOTP another administrator reset, on every instance', async () => {
    const { userId, onA } = await signedInAdmin();
    await enrol(onA);
    const created = await onA.post('/api-keys', { name: 'ci', scopes: ['workspaces:read'] });
    expect(created.statusCode, created.body).toBe(201);
    const { key } = created.json<{ key: string }>();
    const viaKeyOnB = () => instances.b.app.inject({ method: 'GET', url: '/api/v1/workspaces', headers: { authorization: `Bearer ${key}` } });
    expect((await viaKeyOnB()).statusCode).toBe(200);
    const boss = await signedInAdmin();
    const [bossCode] = await enrol(boss.onA);
    const reset = await boss.onA.post(`/admin/users/${userId}/reset-mfa`, { password: PASSWORD, code: bossCode });
    expect(reset.statusCode, reset.body).toBe(200);
    // The reset ends sessions, not API keys: the key lives on, and only the gate stands in the way.
    expect((await viaKeyOnB()).json().error?.code).toBe('mfa_enrollment_required');
  });

  it('serves the state from the cache until the service forgets it, then reads it again', async () => {
    const { userId, onA } = await signedInAdmin();
    await enrol(onA);
    const onB = sameBrowserOn(instances.b, onA);
    await warm(instances.b, onB, 200);
    // Changed behind the service's back (no broadcast): B still serves what it cached.
    await instances.a.database.db.updateTable('users').set({ totp_enabled_at: null }).where('id', '=', userId).execute();
    expect((await onB.get('/workspaces')).statusCode).toBe(200);
    await instances.a.app.accounts.users.forgetGateState(userId);
    expect((await onB.get('/workspaces')).json().error.code).toBe('mfa_enrollment_required');
  });
});
