/** /api/v1/workspaces: workspaces, members, invitations and usage. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { WORKSPACE_ROLES } from '../../domain/workspaces.js';
import { PERMISSION_NAMES, permissionsOf } from './permissions.js';
import type { InvitationRow, MembershipRow } from './repo.js';
import type { WorkspaceService } from './service.js';
import type { UsageService } from './usage.js';

const Role = z.enum(WORKSPACE_ROLES);
const WorkspaceView = z.object({
  id: z.uuid(),
  name: z.string(),
  personal: z.boolean().describe('The caller’s personal workspace (cannot be shared)'),
  role: Role.describe('The caller’s role here'),
  monthlyTokenBudget: z.number().nullable().describe('Tokens per calendar month (UTC); null: unlimited'),
  createdAt: z.string(),
  permissions: z.array(z.enum(PERMISSION_NAMES)).describe('What the caller’s role allows here (the permission table); the server still checks every call'),
});
const MemberView = z.object({
  userId: z.uuid(),
  email: z.string().nullable().describe('null when your role does not show addresses (viewers see names and roles only)'),
  name: z.string(),
  role: Role,
  joinedAt: z.string(),
});
const InvitationView = z.object({ id: z.uuid(), email: z.string(), role: Role, expiresAt: z.string(), createdAt: z.string() });
const InvitationToken = z.string().min(10).max(200).describe('The token of the invitation link (/invitations#token=bst_inv_…)');
const PendingInvitationView = z.object({ id: z.uuid(), workspaceName: z.string(), role: Role, invitedBy: z.string().nullable().describe('Name of who invited you'), expiresAt: z.string() });
const UsageView = z.object({ period: z.string(), inputTokens: z.number(), outputTokens: z.number(), budget: z.number().nullable() });
const Id = z.object({ id: z.uuid() });
const Ok = z.object({ ok: z.literal(true) });

function view(row: MembershipRow): z.infer<typeof WorkspaceView> {
  return {
    id: row.id,
    name: row.name,
    personal: row.personal_owner_id !== null,
    role: row.role,
    monthlyTokenBudget: row.monthly_token_budget === null ? null : Number(row.monthly_token_budget),
    createdAt: row.created_at.toISOString(),
    permissions: permissionsOf(row.role),
  };
}

function invitationView(row: InvitationRow): z.infer<typeof InvitationView> {
  return { id: row.id, email: row.email, role: row.role, expiresAt: row.expires_at.toISOString(), createdAt: row.created_at.toISOString() };
}

export function workspaceRoutes(workspaces: WorkspaceService, usage: UsageService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['workspaces'];
    const read = { access: { scope: 'workspaces:read' as const } };
    const write = { access: { scope: 'workspaces:write' as const } };

    app.get(
      '/workspaces',
      {
        config: read,
        schema: {
          tags,
          summary: 'List the workspaces you belong to',
          response: { 200: z.object({ workspaces: z.array(WorkspaceView), lastWorkspaceId: z.uuid().nullable().describe('The one you last chose (PUT /me/workspace), when you still belong to it') }) },
        },
      },
      async (request) => {
        await workspaces.personal(request.callerId());
        const [list, last] = await Promise.all([workspaces.list(request.callerId()), workspaces.lastChosen(request.callerId())]);
        return { workspaces: list.map(view), lastWorkspaceId: list.some((w) => w.id === last) ? last : null };
      },
    );

    app.put(
      '/me/workspace',
      {
        config: write,
        schema: {
          tags,
          summary: 'Remember the workspace you work in: the web app opens it at your next sign-in, on any device',
          body: z.strictObject({ workspaceId: z.uuid() }),
          response: { 200: Ok },
        },
      },
      async (request) => {
        await workspaces.choose(request.callerId(), request.body.workspaceId);
        return { ok: true as const };
      },
    );

    app.post(
      '/workspaces',
      {
        config: write,
        schema: { tags, summary: 'Create a shared workspace; you become its owner', body: z.strictObject({ name: z.string().trim().min(1).max(100) }).meta({ examples: [{ name: 'Support team' }] }), response: { 201: WorkspaceView } },
      },
      async (request, reply) => reply.status(201).send(view(await workspaces.create(request.callerId(), request.body.name))),
    );

    app.get('/workspaces/:id', { config: read, schema: { tags, summary: 'A workspace you belong to', params: Id, response: { 200: WorkspaceView } } }, async (request) => {
      const context = await request.workspace('workspace.read', request.params.id);
      return view({ ...context.workspace, role: context.role });
    });

    app.patch(
      '/workspaces/:id',
      {
        config: write,
        schema: {
          tags,
          summary: 'Rename a workspace or set its monthly token budget (owner, admin)',
          params: Id,
          body: z.strictObject({ name: z.string().trim().min(1).max(100).optional(), monthlyTokenBudget: z.number().int().min(0).max(1e12).nullable().optional() }),
          response: { 200: WorkspaceView },
        },
      },
      async (request) => view(await workspaces.update(await request.workspace('workspace.write', request.params.id), request.body)),
    );

    app.get('/workspaces/:id/usage', { config: read, schema: { tags, summary: 'Tokens used this month and the budget', params: Id, response: { 200: UsageView } } }, async (request) =>
      usage.summary(await request.workspace('workspace.read', request.params.id)),
    );

    app.get(
      '/workspaces/:id/members',
      { config: read, schema: { tags, summary: 'Members and their roles (email addresses: owner, admin, member)', params: Id, response: { 200: z.object({ members: z.array(MemberView) }) } } },
      async (request) => {
        const rows = await workspaces.members(await request.workspace('members.read', request.params.id));
        return { members: rows.map((m) => ({ userId: m.user_id, email: m.email, name: m.name, role: m.role, joinedAt: m.created_at.toISOString() })) };
      },
    );

    const Member = z.object({ id: z.uuid(), userId: z.uuid() });
    app.patch(
      '/workspaces/:id/members/:userId',
      { config: write, schema: { tags, summary: 'Change a member’s role (owners manage owners and admins)', params: Member, body: z.strictObject({ role: Role }), response: { 200: Ok } } },
      async (request) => {
        await workspaces.changeRole(await request.workspace('members.read', request.params.id), request.params.userId, request.body.role, request.actor());
        return { ok: true as const };
      },
    );

    app.delete('/workspaces/:id/members/:userId', { config: write, schema: { tags, summary: 'Remove a member, or leave (your own id)', params: Member, response: { 200: Ok } } }, async (request) => {
      await workspaces.removeMember(await request.workspace('members.read', request.params.id), request.params.userId, request.actor());
      return { ok: true as const };
    });

    app.get('/workspaces/:id/invitations', { config: read, schema: { tags, summary: 'Open invitations (owner, admin)', params: Id, response: { 200: z.object({ invitations: z.array(InvitationView) }) } } }, async (request) => ({
      invitations: (await workspaces.invitations(await request.workspace('members.read', request.params.id))).map(invitationView),
    }));

    app.post(
      '/workspaces/:id/invitations',
      {
        config: write,
        schema: {
          tags,
          summary: 'Invite someone by email: a single-use link valid 7 days (owner, admin)',
          params: Id,
          body: z.strictObject({ email: z.email().max(254), role: z.enum(['admin', 'member', 'viewer']).default('member') }),
          response: { 201: InvitationView },
        },
      },
      async (request, reply) => {
        const context = await request.workspace('members.read', request.params.id);
        const invitation = await workspaces.invite(context, request.body.email, request.body.role, request.actor());
        return reply.status(201).send(invitationView(invitation));
      },
    );

    app.delete('/workspaces/:id/invitations/:invitationId', { config: write, schema: { tags, summary: 'Revoke an invitation', params: z.object({ id: z.uuid(), invitationId: z.uuid() }), response: { 200: Ok } } }, async (request) => {
      await workspaces.revokeInvitation(await request.workspace('members.read', request.params.id), request.params.invitationId, request.actor());
      return { ok: true as const };
    });

    app.post(
      '/workspaces/invitations/accept',
      { config: write, schema: { tags, summary: 'Join a workspace with the token from an invitation mail', body: z.strictObject({ token: InvitationToken }), response: { 200: WorkspaceView } } },
      async (request) => view(await workspaces.accept(request.callerId(), { token: request.body.token }, request.actor())),
    );

    app.post(
      '/workspaces/invitations/preview',
      {
        config: { access: 'public', rateLimit: 'auth' },
        schema: {
          tags,
          summary: 'What an invitation link offers (for the page it opens, signed in or not)',
          body: z.strictObject({ token: InvitationToken }),
          response: {
            200: z.object({
              workspaceName: z.string(),
              email: z.string().describe('The address the invitation was sent to: only that account can accept it'),
              role: Role,
              expiresAt: z.string(),
              hasAccount: z.boolean().describe('An account with this address exists: sign in to accept; else register through the link'),
            }),
          },
        },
      },
      async (request) => {
        const preview = await workspaces.preview(request.body.token);
        return { ...preview, expiresAt: preview.expiresAt.toISOString() };
      },
    );

    app.get(
      '/workspaces/invitations/mine',
      { config: read, schema: { tags, summary: 'Open invitations addressed to your (verified) email', response: { 200: z.object({ invitations: z.array(PendingInvitationView) }) } } },
      async (request) => ({ invitations: (await workspaces.pendingFor(request.callerId())).map((p) => ({ ...p, expiresAt: p.expiresAt.toISOString() })) }),
    );

    app.post(
      '/workspaces/invitations/:invitationId/accept',
      { config: write, schema: { tags, summary: 'Join a workspace from your list of pending invitations', params: z.object({ invitationId: z.uuid() }), response: { 200: WorkspaceView } } },
      async (request) => view(await workspaces.accept(request.callerId(), { id: request.params.invitationId }, request.actor())),
    );

    app.post('/workspaces/invitations/:invitationId/decline', { config: write, schema: { tags, summary: 'Decline an invitation addressed to you', params: z.object({ invitationId: z.uuid() }), response: { 200: Ok } } }, async (request) => {
      await workspaces.decline(request.callerId(), request.params.invitationId, request.actor());
      return { ok: true as const };
    });
  };
}
