/**
 * The workspace-context plugin: which workspace a request acts in, and the caller's role
 * there, resolved once per request. `request.workspace(permission)` answers the workspace
 * named by X-Workspace-Id (else the caller's personal one) — or by a path id, for the
 * /workspaces/:id routes — checking the permission on every call; a workspace the caller
 * is not a member of is a 404, a permission the role lacks a 403 (permissions.ts).
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { App } from '../../http/app-type.js';
import type { Permission } from './permissions.js';
import { originOf } from '../security-events/origin.js';
import type { WorkspaceContext, WorkspaceService } from './service.js';

export const WORKSPACE_HEADER = 'x-workspace-id';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's context in the request's workspace (or `workspaceId`), after checking `permission`. */
    workspace(permission: Permission, workspaceId?: string): Promise<WorkspaceContext>;
  }
}

/** X-Workspace-Id as sent, or undefined for the personal workspace. */
function workspaceHeader(request: FastifyRequest): string | undefined {
  const value = request.headers[WORKSPACE_HEADER];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const resolved = new WeakMap<FastifyRequest, Map<string, Promise<WorkspaceContext>>>();

export const workspaceContext = fp(
  async (app: App, options: { workspaces: WorkspaceService }) => {
    app.decorateRequest('workspace', async function (this: FastifyRequest, permission: Permission, workspaceId?: string) {
      const target = workspaceId ?? workspaceHeader(this);
      let byId = resolved.get(this);
      if (!byId) resolved.set(this, (byId = new Map()));
      const key = target ?? '';
      let membership = byId.get(key);
      if (!membership) byId.set(key, (membership = options.workspaces.membership(this.callerId(), target)));
      const context: WorkspaceContext = { ...(await membership), origin: originOf(this) };
      options.workspaces.require(context, permission);
      return context;
    });
  },
  { name: 'workspace-context', fastify: '5.x', dependencies: ['bastion-caller'] },
);
