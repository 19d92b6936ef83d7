/**
 * The workspaces plugin: tenancy. The workspace service and the workspace-context plugin
 * (request.workspace(permission)), usage and budgets, membership and invitation routes,
 * per-workspace SSO settings, and single sign-on (OIDC) for the instance and workspaces.
 */
import fp from 'fastify-plugin';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { oidcRoutes } from '../modules/oidc/routes.js';
import { OidcService } from '../modules/oidc/service.js';
import { workspaceContext } from '../modules/workspaces/context.js';
import { WorkspaceService } from '../modules/workspaces/service.js';
import { workspaceSsoRoutes } from '../modules/workspaces/sso-routes.js';
import { WorkspaceSsoService } from '../modules/workspaces/sso.js';
import { workspaceRoutes } from '../modules/workspaces/routes.js';
import { UsageService } from '../modules/workspaces/usage.js';
import { guardedFetch } from '../platform/net/fetch-adapter.js';

/** Whole time for one request to an identity provider (discovery, JWKS, token exchange). */
export const OIDC_FETCH_TIMEOUT_MS = 10_000;

export interface Workspaces {
  workspaces: WorkspaceService;
  usage: UsageService;
}

declare module 'fastify' {
  interface FastifyInstance {
    workspaces: Workspaces;
  }
}

export const workspaces = fp(
  async (app: App) => {
    const { config, db, clock, mailer, encryptor, securityEvents, monitoring, outbound, cookie } = app.core;
    const { users, audit, authDeps } = app.accounts;
    const workspaces = new WorkspaceService(db, clock, mailer, config.PUBLIC_URL, securityEvents, users, audit, { store: app.core.store, stats: app.core.cacheStats });
    app.addHook('onClose', () => workspaces.close());
    // People invited to a workspace may register through the invitation, even with REGISTRATION=invite.
    authDeps.invitations = { addressee: (token) => workspaces.invitationAddressee(token) };
    await app.register(workspaceContext, { workspaces });
    const usage = new UsageService(db, clock, (workspaceId, tokens) => monitoring.spend.observe(workspaceId, tokens));
    await app.register(workspaceRoutes(workspaces, usage), { prefix: API_PREFIX });

    const workspaceSso = new WorkspaceSsoService(db, encryptor, clock, workspaces, config.PUBLIC_URL);
    await app.register(workspaceSsoRoutes(workspaceSso), { prefix: API_PREFIX });
    const oidc = new OidcService(authDeps, {
      redirectUri: `${config.PUBLIC_URL}${API_PREFIX}/auth/oidc/callback`,
      instance:
        config.OIDC_ISSUER && config.OIDC_CLIENT_ID && config.OIDC_CLIENT_SECRET
          ? { issuer: config.OIDC_ISSUER, clientId: config.OIDC_CLIENT_ID, clientSecret: config.OIDC_CLIENT_SECRET, jitProvisioning: config.OIDC_JIT_PROVISIONING }
          : null,
      workspaceProvider: (workspaceId) => workspaceSso.provider(workspaceId),
      addMember: (workspaceId, userId, role) => workspaceSso.addMember(workspaceId, userId, role),
      guardedFetch: guardedFetch(outbound.sso, OIDC_FETCH_TIMEOUT_MS),
    });
    await app.register(oidcRoutes(oidc, cookie, config.PUBLIC_URL), { prefix: API_PREFIX });

    app.decorate('workspaces', { workspaces, usage });
  },
  { name: 'bastion-workspaces', fastify: '5.x', dependencies: ['bastion-core', 'bastion-accounts'] },
);
