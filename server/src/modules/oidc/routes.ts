/** /api/v1/auth/oidc/*: single sign-on through the configured OpenID Connect provider. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { setSessionCookie, type CookiePolicy } from '../../http/authenticate.js';
import { AppError } from '../../errors.js';
import type { OidcService } from './service.js';
import { originOf } from '../security-events/origin.js';

const FLOW_COOKIE = 'bastion_oidc';
const FLOW_PATH = '/api/v1/auth/oidc';

export function oidcRoutes(oidc: OidcService, cookie: CookiePolicy, publicUrl: string): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['sso'];
    app.get(
      '/auth/oidc/start',
      {
        config: { access: 'public', rateLimit: 'auth' },
        schema: {
          tags,
          summary: 'Start single sign-on (redirects to the identity provider): the instance’s, or a workspace’s with ?workspace=<id>',
          querystring: z.object({ workspace: z.uuid().optional() }),
        },
      },
      async (request, reply) => {
        // Only `workspace` is read: the redirect target is always the configured callback.
        try {
          const { url, browserCookie } = await oidc.start(request.query.workspace ?? null);
          reply.setCookie(FLOW_COOKIE, browserCookie, { path: FLOW_PATH, httpOnly: true, secure: cookie.secure, sameSite: 'lax', maxAge: 600 });
          return reply.redirect(url, 302);
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          return reply.redirect(`${publicUrl}/sign-in#error=${error.code}`, 303);
        }
      },
    );

    app.get('/auth/oidc/callback', { config: { access: 'public', rateLimit: 'auth' }, schema: { tags, summary: 'Where the identity provider sends the browser back' } }, async (request, reply) => {
      reply.clearCookie(FLOW_COOKIE, { path: FLOW_PATH, httpOnly: true, secure: cookie.secure, sameSite: 'lax' });
      const userAgent = request.headers['user-agent'];
      try {
        const result = await oidc.callback(new URL(request.url, publicUrl), request.cookies[FLOW_COOKIE], { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : '' });
        if (result.kind === 'link_pending') return reply.redirect(`${publicUrl}/sign-in#sso=link_pending`, 303);
        if (result.kind === 'mfa') return reply.redirect(`${publicUrl}/sign-in#${new URLSearchParams({ mfaToken: result.mfaToken }).toString()}`, 303);
        setSessionCookie(reply, cookie, result.token);
        return reply.redirect(`${publicUrl}/`, 303);
      } catch (error) {
        const code = error instanceof AppError ? error.code : 'internal_error';
        if (!(error instanceof AppError)) request.log.error({ err: error }, 'oidc callback failed');
        return reply.redirect(`${publicUrl}/sign-in#error=${code}`, 303);
      }
    });

    app.post(
      '/auth/oidc/link',
      {
        config: { access: 'public', rateLimit: 'auth' },
        schema: { tags, summary: 'Confirm linking a single sign-on identity to your account', body: z.strictObject({ token: z.string().min(10).max(200) }), response: { 200: z.object({ ok: z.literal(true) }) } },
      },
      async (request) => {
        await oidc.confirmLink(request.body.token, originOf(request));
        return { ok: true as const };
      },
    );
  };
}
