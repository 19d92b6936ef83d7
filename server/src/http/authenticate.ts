/**
 * Cookie sessions and CSRF for browsers.
 *
 * - The session cookie is `__Host-bastion_session` (Secure, HttpOnly, SameSite=Lax,
 *   Path=/) — or `bastion_session` without Secure when PUBLIC_URL is plain-http localhost.
 * - Every state-changing request must be same-origin by `Sec-Fetch-Site`/`Origin` when the
 *   browser sends them; cookie-authenticated ones also need the session's CSRF token in
 *   `X-CSRF-Token` (synchronizer token, ASVS 3.5.1). Requests carrying `Authorization`
 *   (API keys, bearer tokens) do not use the cookie and are exempt.
 */
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { App } from './app-type.js';
import { constantTimeEqual } from '../platform/crypto/tokens.js';
import type { Principal, SessionState } from '../principal.js';
import { AppError } from '../errors.js';
import { checkAccess, isApiRoute } from './access.js';

declare module 'fastify' {
  interface FastifyRequest {
    session: SessionState | null;
    /** A credential that failed to authenticate; reported after rate limiting. */
    authError?: unknown;
  }
}

/** Reports a failed credential, then checks the route's access (runs after the rate limit). */
export function authorizeRequest(request: FastifyRequest): void {
  if (request.authError) throw request.authError;
  checkAccess(request);
}

export interface CookiePolicy {
  name: string;
  secure: boolean;
  maxAgeSeconds: number;
}

export function cookiePolicy(publicUrl: string, absoluteTimeoutMs: number): CookiePolicy {
  const url = new URL(publicUrl);
  const plainLocalhost = url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  return {
    name: plainLocalhost ? 'bastion_session' : '__Host-bastion_session',
    secure: !plainLocalhost,
    maxAgeSeconds: Math.floor(absoluteTimeoutMs / 1000),
  };
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` for endpoints browsers post to on their own (CSP reports); they take no cookie action. */
    csrf?: false;
  }
}

export interface AuthenticationOptions {
  /** Resolves a session cookie's token to its live state, or null (SessionService). */
  sessions: { authenticate(token: string): Promise<SessionState | null> };
  cookie: CookiePolicy;
  allowedOrigins: Set<string>;
  /** Resolves a bearer credential (API key or access token) to a principal, or throws 401. */
  bearer: (credential: string, ip: string, request: FastifyRequest) => Promise<Principal>;
  /** Told of each refused bearer credential (metrics), by kind only. */
  onFailure?: (kind: CredentialKind) => void;
}

export type CredentialKind = 'api_key' | 'access_token' | 'malformed_credential';

/** What a refused Authorization header held, judged by its shape (never its value). */
export function credentialKind(authorization: string): CredentialKind {
  const [scheme, credential] = authorization.split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !credential) return 'malformed_credential';
  if (credential.startsWith('bst_key_')) return 'api_key';
  return credential.split('.').length === 3 ? 'access_token' : 'malformed_credential';
}

/** Resolves every API request's credential to `request.principal` (or `request.authError`). */
export const authentication = fp(async (app: App, options: AuthenticationOptions) => registerAuthentication(app, options), { name: 'authentication', fastify: '5.x' });

function registerAuthentication(app: App, options: AuthenticationOptions): void {
  app.decorateRequest('session', null);
  app.decorateRequest('principal', null);
  // Callback style so non-API requests (assets, pages) cost no promise.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isApiRoute(request)) return done(); // static assets and the SPA shell need no session
    resolvePrincipal(request, options)
      .catch((error: unknown) => {
        // Answered after the rate limit (see authorizeRequest), so guessing credentials is limited too.
        request.authError = error;
        const authorization = request.headers.authorization;
        if (authorization && error instanceof AppError && error.code === 'unauthenticated') options.onFailure?.(credentialKind(authorization));
      })
      .then(() => {
        // Credentials sent in a header are not ambient: only cookie requests need CSRF checks.
        if (!request.headers.authorization && UNSAFE.has(request.method) && request.routeOptions.config?.csrf !== false) {
          checkCsrf(request, options.allowedOrigins);
        }
        done();
      })
      .catch(done);
  });
}

async function resolvePrincipal(request: FastifyRequest, options: AuthenticationOptions): Promise<void> {
  const authorization = request.headers.authorization;
  if (authorization) {
    // API credentials: the cookie is not consulted.
    const [scheme, credential] = authorization.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !credential) throw new AppError('unauthenticated', 'Use Authorization: Bearer <API key or access token>.');
    request.principal = await options.bearer(credential, request.ip, request);
    return;
  }
  const token = request.cookies[options.cookie.name];
  const session = token ? await options.sessions.authenticate(token) : null;
  request.session = session;
  if (session) request.principal = { kind: 'session', userId: session.userId, scopes: 'all', sessionId: session.id };
}

function checkCsrf(request: FastifyRequest, allowedOrigins: Set<string>): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  // same-site (a sibling subdomain) is allowed only when its origin is listed in CORS_ORIGINS.
  const siteAllowed = site === 'same-origin' || site === 'none' || (site === 'same-site' && typeof origin === 'string' && allowedOrigins.has(origin));
  if (typeof site === 'string' && !siteAllowed) {
    throw new AppError('csrf_failed', 'Cross-site request refused.');
  }
  if (typeof origin === 'string' && !allowedOrigins.has(origin)) {
    throw new AppError('csrf_failed', 'Cross-origin request refused.');
  }
  if (request.session) {
    const token = request.headers['x-csrf-token'];
    if (typeof token !== 'string' || !constantTimeEqual(token, request.session.csrfToken)) {
      throw new AppError('csrf_failed', 'Missing or invalid CSRF token; fetch one from GET /api/v1/auth/csrf and send it in X-CSRF-Token.');
    }
  }
}

export function setSessionCookie(reply: FastifyReply, cookie: CookiePolicy, token: string): void {
  reply.setCookie(cookie.name, token, {
    path: '/',
    httpOnly: true,
    secure: cookie.secure,
    sameSite: 'lax',
    maxAge: cookie.maxAgeSeconds,
  });
}

export function clearSessionCookie(reply: FastifyReply, cookie: CookiePolicy): void {
  reply.clearCookie(cookie.name, { path: '/', httpOnly: true, secure: cookie.secure, sameSite: 'lax' });
}

/** The signed-in session, or 401. */
export function requireSession(request: FastifyRequest): SessionState {
  if (!request.session) throw new AppError('unauthenticated', 'Sign in first.');
  return request.session;
}
