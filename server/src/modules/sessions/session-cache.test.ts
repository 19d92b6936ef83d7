/**
 * Sessions are cached in each instance (LocalCache) so most requests skip the store; ending
 * a session must still stop it on the very next request on every instance. The requests go
 * over real HTTP, as a load balancer sends them: the invalidation reaches the other
 * instance's socket before the sign-out's answer leaves, so it is handled first.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { sameBrowserOn, useTwoInstances } from '../../../test/instances.js';
import { hashToken } from '../../platform/crypto/tokens.js';

const instances = useTwoInstances({ REQUIRE_MFA: 'none' });

/** The browser's request over HTTP to an instance. */
async function over(base: string, browser: BrowserClient, method: 'GET' | 'POST', path: string): Promise<number> {
  const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const headers: Record<string, string> = { cookie, origin: 'http://127.0.0.1:3000', 'user-agent': browser.userAgent, ...(method === 'POST' ? { 'x-csrf-token': browser.csrf!, 'content-type': 'application/json' } : {}) };
  const response = await fetch(`${base}/api/v1${path}`, { method, headers, ...(method === 'POST' ? { body: '{}' } : {}) });
  await response.arrayBuffer();
  return response.status;
}

async function signedIn(): Promise<{ onA: BrowserClient; onB: BrowserClient }> {
  const email = `cache-${crypto.randomUUID()}@example.org`;
  await createUser(instances.a.database, { email });
  const onA = new BrowserClient(instances.a.app);
  expect((await onA.signIn(email, PASSWORD)).statusCode).toBe(200);
  const onB = sameBrowserOn(instances.b, onA);
  // Read on B until its cache holds the session (its broadcast subscription may still be connecting).
  for (let i = 0; i < 50; i++) {
    expect((await onB.get('/me')).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { onA, onB };
}

describe('session cache across instances', () => {
  it('serves a session from the instance cache (a hit needs no store read)', async () => {
    const { onB } = await signedIn();
    // Taken out of the store behind the service's back (no broadcast): B still knows it.
    expect(await instances.store.delete(`session:${hashToken(onB.sessionCookie!)}`)).toBe(true);
    expect((await onB.get('/me')).statusCode).toBe(200);
  });

  it('refuses a session signed out on one instance on the next request to the other [ASVS 7.4.1]', async () => {
    const { onA, onB } = await signedIn();
    expect(await over(instances.urlA, onA, 'POST', '/auth/logout')).toBe(200);
    expect(await over(instances.urlB, onB, 'GET', '/me')).toBe(401);
  });

  it('refuses sessions ended by "sign out everywhere" on the other instance at once, for parallel requests too', async () => {
    const { onA, onB } = await signedIn();
    expect(await over(instances.urlA, onA, 'POST', '/auth/logout-all')).toBe(200);
    const answers = await Promise.all(Array.from({ length: 20 }, () => over(instances.urlB, onB, 'GET', '/me')));
    expect(answers).toEqual(Array(20).fill(401));
  });
});
