/** Signing in to a running `bastion serve` process over HTTP, as a browser does. */
import { expect } from 'vitest';

/** The session cookie and its CSRF token. */
export interface HttpSession {
  cookie: string;
  csrf: string;
}

/** POST /auth/login (expects 200), then GET /auth/csrf with the new cookie. `base` ends in /api/v1. */
export async function signInOverHttp(base: string, email: string, password: string, userAgent?: string): Promise<HttpSession> {
  const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...(userAgent ? { 'user-agent': userAgent } : {}) }, body: JSON.stringify({ email, password }) });
  expect(login.status, await login.clone().text()).toBe(200);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = ((await (await fetch(`${base}/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
  return { cookie, csrf };
}
