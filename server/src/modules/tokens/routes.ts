/** POST /api/v1/auth/token, /auth/token/revoke, and GET /.well-known/jwks.json. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { SigningKeys } from './signing-keys.js';
import type { TokenService } from './service.js';
import { originOf } from '../security-events/origin.js';

const TokenPair = z.object({
  accessToken: z.string().describe('JWT (EdDSA, typ at+jwt); send as Authorization: Bearer'),
  refreshToken: z.string().describe('Opaque, single use: each refresh answers a new one'),
  expiresIn: z.number().int().describe('Seconds until the access token expires'),
  tokenType: z.literal('Bearer'),
});

export function tokenRoutes(tokens: TokenService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/auth/token',
      {
        config: { access: 'public', actsAsCaller: true, rateLimit: 'auth', lowStorage: 'allow' },
        schema: {
          tags: ['tokens'],
          summary: 'Get an access token from the browser session, an API key (Authorization: Bearer bst_key_…) or a refresh token',
          body: z.discriminatedUnion('grantType', [
            z.strictObject({ grantType: z.literal('session') }),
            z.strictObject({ grantType: z.literal('api_key') }),
            z.strictObject({ grantType: z.literal('refresh_token'), refreshToken: z.string().min(10).max(200) }),
          ]),
          response: { 200: TokenPair },
        },
      },
      async (request) => {
        const body = request.body;
        if (body.grantType === 'refresh_token') return tokens.refresh(body.refreshToken, request.ip, originOf(request));
        const principal = request.principal;
        const expected = body.grantType === 'session' ? 'session' : 'api_key';
        if (!principal || principal.kind !== expected) {
          throw new AppError('unauthenticated', body.grantType === 'session' ? 'Sign in first.' : 'Send the API key as Authorization: Bearer bst_key_….');
        }
        return tokens.issue(principal);
      },
    );

    app.post(
      '/auth/token/revoke',
      {
        config: { access: 'public', rateLimit: 'auth', lowStorage: 'allow' },
        schema: { tags: ['tokens'], summary: 'Revoke a refresh token and its whole family (always 200)', body: z.strictObject({ refreshToken: z.string().min(1).max(500) }), response: { 200: z.object({ ok: z.literal(true) }) } },
      },
      async (request) => {
        await tokens.revoke(request.body.refreshToken);
        return { ok: true as const };
      },
    );
  };
}

export function jwksRoute(keys: SigningKeys): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/.well-known/jwks.json', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return keys.jwks();
    });
  };
}
