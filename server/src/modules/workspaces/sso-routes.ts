/** /api/v1/workspaces/:id/sso: the workspace's own OpenID Connect provider (owner, admin). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { WorkspaceSsoService } from './sso.js';
import { SSO_DEFAULT_ROLES } from '../../domain/workspaces.js';

const SsoView = z.object({
  issuer: z.string(),
  clientId: z.string(),
  clientSecretHint: z.string().describe('The secret itself is never returned'),
  jitProvisioning: z.boolean(),
  defaultRole: z.enum(SSO_DEFAULT_ROLES),
  startUrl: z.string().describe('Send people here to sign in through this provider'),
});

export function workspaceSsoRoutes(sso: WorkspaceSsoService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['workspaces'];
    const Id = z.object({ id: z.uuid() });

    app.get(
      '/workspaces/:id/sso',
      { config: { access: { scope: 'workspaces:read' } }, schema: { tags, summary: 'The workspace’s single sign-on provider, if any (owner, admin)', params: Id, response: { 200: z.object({ sso: SsoView.nullable() }) } } },
      async (request) => ({
        sso: await sso.get(await request.workspace('sso.read', request.params.id)),
      }),
    );

    app.put(
      '/workspaces/:id/sso',
      {
        config: { access: { scope: 'workspaces:write' } },
        schema: {
          tags,
          summary: 'Set the workspace’s OpenID Connect provider (register PUBLIC_URL/api/v1/auth/oidc/callback as its redirect URI)',
          params: Id,
          body: z
            .strictObject({
              issuer: z.string().max(500).describe('Issuer URL; discovery reads <issuer>/.well-known/openid-configuration'),
              clientId: z.string().trim().min(1).max(300),
              clientSecret: z.string().min(8).max(2_000).optional().describe('Required the first time; omitted: keep the stored one'),
              jitProvisioning: z.boolean().default(false).describe('Add people who sign in through this provider to the workspace'),
              defaultRole: z.enum(SSO_DEFAULT_ROLES).default('member'),
            })
            .meta({ examples: [{ issuer: 'https://login.example.com', clientId: 'bastion', clientSecret: '…', jitProvisioning: true, defaultRole: 'member' }] }),
          response: { 200: SsoView },
        },
      },
      async (request) => sso.put(await request.workspace('workspace.write', request.params.id), request.body),
    );

    app.delete(
      '/workspaces/:id/sso',
      { config: { access: { scope: 'workspaces:write' } }, schema: { tags, summary: 'Remove the workspace’s single sign-on', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } },
      async (request) => {
        await sso.delete(await request.workspace('workspace.write', request.params.id));
        return { ok: true as const };
      },
    );
  };
}
