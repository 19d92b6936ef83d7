/**
 * Authorisation at the route: every /api route declares its access in `config.access`
 * (a route without one fails the server at start). Browser sessions hold every scope of
 * their user; API keys and tokens hold the scopes they were given.
 */
import type { FastifyRequest, RouteOptions } from 'fastify';
import { AppError } from '../errors.js';
import type { Principal, Scope } from '../principal.js';
import { isApiPath } from './api-paths.js';

/**
 * `public`: anyone; `{ scope }`: a principal holding the scope; `session: true`: a browser
 * session only (credential management); `{ scope, bearer: true }`: an API key or access
 * token holding the scope, never a browser session (the OpenAI-compatible API: programs
 * only, so no cookie and no CSRF surface).
 */
export type Access = 'public' | { scope: Scope; session?: true; bearer?: never } | { scope: Scope; bearer: true; session?: never } | { session: true };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /**
     * A `public` route that acts as its caller when one is identified (exchanging a session
     * or an API key for a token): gates on the caller (MFA enrolment) apply to it too.
     */
    actsAsCaller?: true;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** onRoute: refuses API routes without a declared access and documents it in OpenAPI. */
export function declareAccess(route: RouteOptions): void {
  if (!isApiPath(route.url)) return;
  const access = (route.config as { access?: Access } | undefined)?.access;
  if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
  const schema = (route.schema ??= {}) as { security?: Record<string, string[]>[] };
  if (access === 'public') schema.security = [];
  else if ('scope' in access && access.bearer) schema.security = [{ bearerAuth: [access.scope] }];
  else if ('scope' in access && !access.session) schema.security = [{ sessionCookie: [] }, { bearerAuth: [access.scope] }];
  else schema.security = [{ sessionCookie: [] }];
}

/** Checks the request's principal against the route's access; throws 401/403. */
export function checkAccess(request: FastifyRequest): void {
  const access = request.routeOptions.config?.access;
  if (!access || access === 'public') return;
  const principal = request.principal;
  if (!principal) throw new AppError('unauthenticated', 'Sign in or send credentials (Authorization: Bearer …).');
  if (access.session && principal.kind !== 'session') {
    throw new AppError('insufficient_scope', 'This endpoint manages credentials and needs a browser session.');
  }
  if ('bearer' in access && access.bearer && principal.kind === 'session') {
    throw new AppError('unauthenticated', 'This endpoint takes an API key, not a browser session: send Authorization: Bearer bst_key_….');
  }
  if ('scope' in access && principal.scopes !== 'all' && !principal.scopes.has(access.scope)) {
    throw new AppError('insufficient_scope', `This credential lacks the "${access.scope}" scope.`);
  }
}

/**
 * True for requests routed to an API route (/api, or the OpenAI-compatible /v1). Uses the
 * matched route, not the raw URL: the router decodes the path (`/%61pi/…` reaches
 * `/api/…`), so a prefix test on the raw URL could be bypassed.
 */
export function isApiRoute(request: FastifyRequest): boolean {
  const url = request.routeOptions.url;
  return url !== undefined && isApiPath(url);
}
