/**
 * Detection rules through the real app: each rule fires on a scripted attack and stays
 * silent on normal traffic. Time comes from the injected clock (moved a day per test, so
 * windows never carry over); every test uses addresses and accounts of its own.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { apiUser } from '../../../test/api-client.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { waitFor } from '../../../test/harness.js';

const fixture = useAccountsApp({
  REQUIRE_MFA: 'none',
  LOCKOUT_THRESHOLD: '50',
  MONITOR_STUFFING_ACCOUNTS: '5',
  MONITOR_STUFFING_NETWORK_ACCOUNTS: '8',
  MONITOR_SPRAYING_ACCOUNTS: '5',
  MONITOR_BRUTE_FORCE_FAILURES: '4',
  MONITOR_API_KEY_IPS: '3',
  MONITOR_ENUMERATION_RESPONSES: '6',
  MONITOR_REQUESTS_PER_PRINCIPAL: '25',
  MONITOR_ERROR_MIN: '5',
  MONITOR_ERROR_RATIO: '0.5',
  MONITOR_RESPONSES: 'api_key_many_ips=revoke_api_key',
  MONITOR_SAMPLE_SECONDS: '0',
});
let n = 0;
let subnet = 0;
const email = () => `target${++n}@example.org`;
/** A fresh /24 per call, so network-wide stuffing counts never mix between tests. */
const network = () => `198.18.${++subnet}`;
const browser = (ip: string) => new BrowserClient(fixture.t.app, 'http://127.0.0.1:3000', undefined, ip);

async function alerts(rule?: string) {
  let query = fixture.t.database.db.selectFrom('security_alerts').selectAll();
  if (rule) query = query.where('rule', '=', rule);
  return query.execute();
}

describe('credential stuffing', () => {
  it('fires when one address fails on many accounts, and again per /24 network', async () => {
    const net = network();
    for (let i = 0; i < 5; i++) expect((await browser(`${net}.7`).signIn(email(), 'hunter2 hunter2 hunter2')).statusCode).toBe(401);
    expect(await alerts('credential_stuffing')).toMatchObject([{ key: `ip:${net}.7`, severity: 'critical', count: 1 }]);
    // Spread over addresses of one network: the /24 rule sees them together.
    for (let i = 0; i < 3; i++) await browser(`${net}.${20 + i}`).signIn(email(), `wrong password number ${i}`);
    const keys = (await alerts('credential_stuffing')).map((a) => a.key).sort();
    expect(keys).toEqual([`ip:${net}.7`, `net:${net}.0/24`]);
    // Only failures from that address: the traffic monitor's error ratio fires too (its counts
    // are written in batches after the answers, so wait for it before the next test).
    expect(await waitFor(async () => (await alerts('error_ratio')).some((a) => a.key === `ip:${net}.7`), 3_000, 20)).toBe(true);
  });

  it('stays silent when different people mistype their passwords', async () => {
    for (let i = 0; i < 6; i++) {
      const address = email();
      await createUser(fixture.t.database, { email: address });
      const client = browser(`${network()}.9`);
      expect((await client.signIn(address, `${PASSWORD.slice(0, -1)}${i}`)).statusCode).toBe(401); // a typo of their own
      expect((await client.signIn(address, PASSWORD)).statusCode).toBe(200);
    }
    expect(await alerts()).toEqual([]);
  });
});

describe('password spraying', () => {
  it('fires when one password is tried on many accounts from many addresses', async () => {
    for (let i = 0; i < 5; i++) await browser(`${network()}.3`).signIn(email(), 'Summer2026!');
    const [alert] = await alerts('password_spraying');
    expect(alert).toMatchObject({ severity: 'critical' });
    expect(alert!.key).toMatch(/^pw:[0-9a-f]{4}$/);
    // No event row carries the password.
    const rows = await fixture.t.database.db.selectFrom('security_events').select('details').execute();
    expect(JSON.stringify(rows)).not.toContain('Summer2026');
    expect(await alerts('credential_stuffing')).toEqual([]);
  });

  it('stays silent when each account fails with a password of its own', async () => {
    for (let i = 0; i < 6; i++) await browser(`${network()}.3`).signIn(email(), `a different guess ${i}`);
    expect(await alerts()).toEqual([]);
  });
});

describe('brute force', () => {
  it('fires on many failures against one account from anywhere', async () => {
    const address = email();
    const userId = await createUser(fixture.t.database, { email: address });
    for (let i = 0; i < 4; i++) {
      expect((await browser(`${network()}.4`).signIn(address, `guess number ${i}`)).statusCode).toBe(401);
      fixture.clock.advance(60_000); // past the throttle's growing delay
    }
    const [alert] = await alerts('brute_force');
    expect(alert).toMatchObject({ severity: 'warning', details: { failures: 4, userId } });
  });

  it('stays silent on a couple of typos before the right password', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const client = browser(`${network()}.4`);
    for (let i = 0; i < 2; i++) {
      await client.signIn(address, `typo ${i}`);
      fixture.clock.advance(60_000);
    }
    expect((await client.signIn(address, PASSWORD)).statusCode).toBe(200);
    expect(await alerts()).toEqual([]);
  });
});

describe('refresh-token reuse', () => {
  it('raises a critical alert for the account; normal rotation raises none', async () => {
    const address = email();
    const userId = await createUser(fixture.t.database, { email: address });
    const client = browser(`${network()}.5`);
    await client.signIn(address, PASSWORD);
    const { refreshToken } = (await client.post('/auth/token', { grantType: 'session' })).json();
    const refresh = (token: string) => fixture.t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grantType: 'refresh_token', refreshToken: token } });
    const rotated = await refresh(refreshToken);
    expect(rotated.statusCode).toBe(200);
    expect((await refresh(rotated.json().refreshToken)).statusCode).toBe(200);
    expect(await alerts()).toEqual([]);
    expect((await refresh(refreshToken)).statusCode).toBe(401); // replayed
    expect(await alerts('refresh_token_reuse')).toMatchObject([{ key: `user:${userId}`, severity: 'critical' }]);
  });
});

describe('enumeration, volume and error ratio', () => {
  const waitForAlert = (rule: string, key: string) => waitFor(async () => (await alerts(rule)).some((a) => a.key === key), 3_000, 20);

  it('fires on a burst of 404s from one principal', async () => {
    const client = await apiUser(fixture.t);
    for (let i = 0; i < 6; i++) expect((await client.get(`/agents/${crypto.randomUUID()}`)).statusCode).toBe(404);
    const keyId = (await fixture.t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', client.userId).executeTakeFirstOrThrow()).id;
    expect(await waitForAlert('enumeration', `key:${keyId}`)).toBe(true);
    expect(await waitForAlert('error_ratio', `key:${keyId}`)).toBe(true);
  });

  it('fires on unusual volume from one principal', async () => {
    const client = await apiUser(fixture.t);
    for (let i = 0; i < 25; i++) await client.get('/me');
    const keyId = (await fixture.t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', client.userId).executeTakeFirstOrThrow()).id;
    expect(await waitForAlert('request_volume', `key:${keyId}`)).toBe(true);
  });

  it('stays silent on normal use with the odd miss', async () => {
    const client = await apiUser(fixture.t);
    for (let i = 0; i < 15; i++) expect((await client.get('/me')).statusCode).toBe(200);
    for (let i = 0; i < 4; i++) expect((await client.get(`/agents/${crypto.randomUUID()}`)).statusCode).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the hook counts after the answer
    expect(await alerts()).toEqual([]);
  });
});

describe('an API key used from many addresses', () => {
  it('fires, and with the response on the key is revoked', async () => {
    const client = await apiUser(fixture.t);
    const call = (ip: string) => fixture.t.app.inject({ url: '/api/v1/me', headers: client.headers(), remoteAddress: ip });
    const net = network();
    for (const host of [1, 2, 3, 4]) expect((await call(`${net}.${host}`)).statusCode).toBe(200);
    const [alert] = await alerts('api_key_many_ips');
    expect(alert).toMatchObject({ severity: 'critical', details: { addresses: 3 } });
    expect((await call(`${net}.1`)).statusCode).toBe(401);
    const responses = await fixture.t.database.db.selectFrom('security_events').select('details').where('type', '=', 'monitor.response').execute();
    expect(responses).toMatchObject([{ details: { rule: 'api_key_many_ips', action: 'revoke_api_key' } }]);
  });

  it('stays silent for a key used from one host', async () => {
    const client = await apiUser(fixture.t);
    const ip = `${network()}.1`;
    for (let i = 0; i < 5; i++) expect((await fixture.t.app.inject({ url: '/api/v1/me', headers: client.headers(), remoteAddress: ip })).statusCode).toBe(200);
    expect(await alerts()).toEqual([]);
  });
});
