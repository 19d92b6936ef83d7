/**
 * A minimal browser for inject tests: keeps the session cookie, fetches and sends the
 * CSRF token, sends a same-origin Origin header like a real browser would.
 */
import type { LightMyRequestResponse } from 'fastify';
import type { App } from '../src/http/app-type.js';

/** Each browser comes from its own address unless a test says otherwise, as on the internet. */
export function randomIp(): string {
  return `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
}

export class BrowserClient {
  cookies = new Map<string, string>();
  csrf: string | undefined;

  constructor(
    private readonly app: App,
    private readonly origin = 'http://127.0.0.1:3000',
    readonly userAgent = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
    readonly ip = randomIp(),
  ) {}

  async request(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, origin: this.origin, 'sec-fetch-site': 'same-origin', ...extraHeaders };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.csrf && method !== 'GET' && !('x-csrf-token' in extraHeaders)) headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.app.inject({
      method,
      url: `/api/v1${url}`,
      headers,
      remoteAddress: this.ip,
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    for (const cookie of response.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const cleared = cookie.value === '' || cookie.maxAge === 0 || (cookie.expires && cookie.expires.getTime() < Date.now());
      if (cleared) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }

  get(url: string) {
    return this.request('GET', url);
  }

  post(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('POST', url, body ?? {}, headers);
  }

  delete(url: string) {
    return this.request('DELETE', url);
  }

  /** Signs in with a password (and a code when asked) and loads the CSRF token. */
  async signIn(email: string, password: string, code?: () => Promise<string>): Promise<LightMyRequestResponse> {
    let response = await this.post('/auth/login', { email, password });
    if (response.statusCode === 200 && response.json().mfaRequired) {
      if (!code) return response;
      response = await this.post('/auth/login/mfa', { mfaToken: response.json().mfaToken, code: await code() });
    }
    if (response.statusCode === 200) await this.loadCsrf();
    return response;
  }

  async loadCsrf(): Promise<void> {
    const response = await this.get('/auth/csrf');
    this.csrf = response.statusCode === 200 ? response.json().token : undefined;
  }

  get sessionCookie(): string | undefined {
    return this.cookies.get('bastion_session') ?? this.cookies.get('__Host-bastion_session');
  }
}
