/**
 * ASVS 5.0 V3.3 session cookie attributes on a deployment with an https PUBLIC_URL (what
 * production runs), through the HTTP API of the real app. The plain-http localhost
 * fallback (`bastion_session` without Secure) is covered by the sign-in tests.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../accounts.js';
import { BrowserClient, randomIp } from '../../browser-client.js';

const ORIGIN = 'https://bastion.example.org';
const fixture = useAccountsApp({ PUBLIC_URL: ORIGIN, REQUIRE_MFA: 'none' });
let n = 0;
const email = () => `asvs-session${++n}@example.org`;
const browser = () => new BrowserClient(fixture.t.app, ORIGIN, undefined, randomIp());

/** The attributes of one Set-Cookie header, lower-cased names, as a browser reads them. */
function parseSetCookie(header: string): { name: string; value: string; attributes: Map<string, string> } {
  const [pair, ...rest] = header.split(';').map((part) => part.trim());
  const [name, ...value] = pair!.split('=');
  const attributes = new Map(rest.map((part) => [part.split('=')[0]!.toLowerCase(), part.includes('=') ? part.slice(part.indexOf('=') + 1) : '']));
  return { name: name!, value: value.join('='), attributes };
}

function setCookies(header: string | string[] | number | undefined): string[] {
  return header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
}

describe('the session cookie over https', () => {
  it('is __Host-bastion_session: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain [ASVS 3.3.1, 3.3.2, 3.3.3, 3.3.4]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const response = await browser().post('/auth/login', { email: address, password: PASSWORD });
    expect(response.statusCode, response.body).toBe(200);
    const cookies = setCookies(response.headers['set-cookie']).map(parseSetCookie);
    const session = cookies.find((cookie) => cookie.name.endsWith('bastion_session'));
    expect(session?.name).toBe('__Host-bastion_session');
    expect(session!.value).toMatch(/^bst_sess_[A-Za-z0-9_-]{43}$/);
    expect(session!.attributes.has('secure')).toBe(true);
    expect(session!.attributes.has('httponly')).toBe(true);
    expect(session!.attributes.get('samesite')?.toLowerCase()).toBe('lax');
    expect(session!.attributes.get('path')).toBe('/');
    expect(session!.attributes.has('domain'), '__Host- cookies must not name a domain').toBe(false);
    // Every cookie the server sets over https is Secure.
    for (const cookie of cookies) expect(cookie.attributes.has('secure'), cookie.name).toBe(true);
  });

  it('is read only under its __Host- name, so a cookie planted from a sibling host is ignored [ASVS 3.3.3]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const owner = browser();
    expect((await owner.signIn(address, PASSWORD)).statusCode).toBe(200);
    const token = owner.sessionCookie!;
    const me = (cookie: string) => fixture.t.app.inject({ url: '/api/v1/me', headers: { cookie } });
    expect((await me(`__Host-bastion_session=${token}`)).statusCode).toBe(200);
    // A sibling subdomain can set `bastion_session` for the parent domain, but not a __Host- cookie.
    expect((await me(`bastion_session=${token}`)).statusCode).toBe(401);
  });

  it('is cleared at sign-out with the attributes it was set with [ASVS 3.3.1, 7.4.1]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const owner = browser();
    await owner.signIn(address, PASSWORD);
    const token = owner.sessionCookie!;
    const response = await owner.post('/auth/logout');
    expect(response.statusCode, response.body).toBe(200);
    const cleared = setCookies(response.headers['set-cookie'])
      .map(parseSetCookie)
      .find((cookie) => cookie.name === '__Host-bastion_session');
    expect(cleared?.value).toBe('');
    expect(cleared!.attributes.has('secure')).toBe(true);
    expect(cleared!.attributes.get('path')).toBe('/');
    expect((await fixture.t.app.inject({ url: '/api/v1/me', headers: { cookie: `__Host-bastion_session=${token}` } })).statusCode).toBe(401);
  });
});
