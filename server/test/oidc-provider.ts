/**
 * A real OpenID Connect provider (oidc-provider) on loopback, with its development login
 * and consent pages driven like a browser would (cookies, forms, redirects).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import { freePort } from './harness.js';

const KEY_ID = 'test-signing-key';

export interface TestAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export class TestOidcProvider {
  readonly accounts = new Map<string, TestAccount>();
  private server: Server | undefined;
  private signingKey: JWK | undefined;
  issuer = '';
  /**
   * When set, the ID token the token endpoint answers is re-signed with the provider's own key
   * after this change of its claims: a token the provider really signed, but not as issued
   * (one meant for another client, say).
   */
  tamperIdToken: ((claims: JWTPayload) => JWTPayload) | undefined;

  async start(redirectUri: string, clientSecret: string): Promise<void> {
    const port = await freePort();
    this.issuer = `http://127.0.0.1:${port}`;
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    this.signingKey = { ...(await exportJWK(privateKey)), kid: KEY_ID, alg: 'RS256', use: 'sig' };
    const provider = new Provider(this.issuer, {
      jwks: { keys: [this.signingKey] },
      clients: [{ client_id: 'bastion', client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
      pkce: { required: () => true },
      findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, ...(this.accounts.get(sub) ?? {}) }) }),
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      features: { devInteractions: { enabled: true } },
      ttl: { AccessToken: 600, IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
    });
    const handle = provider.callback();
    this.server = createServer((request, response) => {
      if (this.tamperIdToken && request.method === 'POST' && request.url?.startsWith('/token')) this.rewriteIdToken(response, this.tamperIdToken);
      void handle(request, response);
    }).listen(port);
  }

  /** Replaces the id_token in the token endpoint's JSON answer before it is sent. */
  private rewriteIdToken(response: ServerResponse, change: (claims: JWTPayload) => JWTPayload): void {
    const end = response.end.bind(response) as (body?: string | Buffer) => ServerResponse;
    response.end = ((body?: string | Buffer) => {
      void (async () => {
        const answer = JSON.parse(String(body)) as { id_token?: string };
        if (answer.id_token) {
          const key = await importJWK(this.signingKey!, 'RS256');
          answer.id_token = await new SignJWT(change(decodeJwt(answer.id_token))).setProtectedHeader({ alg: 'RS256', kid: KEY_ID }).sign(key);
        }
        const text = JSON.stringify(answer);
        if (!response.headersSent) response.setHeader('content-length', Buffer.byteLength(text));
        end(text);
      })();
      return response;
    }) as ServerResponse['end'];
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Follows the provider's pages from an authorization URL, signing in as `login`; returns the callback URL. */
  async authorize(authorizationUrl: string, login: string): Promise<string> {
    const jar = new Map<string, string>();
    const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
      const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const header of response.headers.getSetCookie()) {
        const [pair] = header.split(';');
        const [name, value] = pair!.split('=');
        jar.set(name!, value ?? '');
      }
      return response;
    };
    const form = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    let response = await go(authorizationUrl);
    for (let step = 0; step < 10; step++) {
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, this.issuer).href;
        if (!next.startsWith(this.issuer)) return next;
        response = await go(next);
        continue;
      }
      const html = await response.text();
      const action = /action="([^"]+)"/.exec(html)?.[1];
      if (!action) throw new Error(`provider page without a form (status ${response.status})`);
      const body = html.includes('name="login"') ? `prompt=login&login=${encodeURIComponent(login)}&password=any` : 'prompt=consent';
      response = await go(new URL(action, this.issuer).href, form(body));
    }
    throw new Error('provider flow did not finish');
  }
}
