/** /api/v1/agents: agents of the caller's workspace, with their version history. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requestActor } from '../audit/request.js';
import type { AuditLog } from '../audit/service.js';
import type { WorkspaceService } from '../workspaces/service.js';
import { callerId, workspaceHeader } from '../workspaces/routes.js';
import { AgentConfig, AgentPatch } from './config.js';
import type { Agent, AgentService } from './service.js';

export const AgentView = z.object({
  id: z.uuid(),
  version: z.number().int().describe('Current version; every change adds one'),
  config: AgentConfig,
  createdAt: z.string(),
  updatedAt: z.string(),
});

function view(agent: Agent): z.infer<typeof AgentView> {
  return { id: agent.id, version: agent.version, config: agent.config, createdAt: agent.createdAt.toISOString(), updatedAt: agent.updatedAt.toISOString() };
}

const EXAMPLE = { name: 'Support assistant', providerConnectionId: null, systemPrompt: 'Answer from the handbook and cite it.', tools: ['search_knowledge', 'calculator'], temperature: 0 };

export function agentRoutes(agents: AgentService, workspaces: WorkspaceService, audit: AuditLog): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['agents'];
    const read = { access: { scope: 'agents:read' as const } };
    const write = { access: { scope: 'agents:write' as const } };
    const Id = z.object({ id: z.uuid() });
    const context = (request: Parameters<typeof callerId>[0], permission: 'agents.read' | 'agents.write') => workspaces.resolve(callerId(request), workspaceHeader(request), permission);

    app.get('/agents', { config: read, schema: { tags, summary: 'List agents, most recently changed first', response: { 200: z.object({ agents: z.array(AgentView) }) } } }, async (request) => ({
      agents: (await agents.list(await context(request, 'agents.read'))).map(view),
    }));

    app.post(
      '/agents',
      { config: write, schema: { tags, summary: 'Create an agent (version 1)', body: AgentConfig.meta({ examples: [EXAMPLE] }), response: { 201: AgentView } } },
      async (request, reply) => {
        const workspace = await context(request, 'agents.write');
        const agent = await agents.create(workspace, request.body);
        await audit.record({ ...requestActor(request), action: 'agent.created', workspaceId: workspace.workspaceId, target: { type: 'agent', id: agent.id }, details: { version: agent.version } });
        return reply.status(201).send(view(agent));
      },
    );

    app.get('/agents/:id', { config: read, schema: { tags, summary: 'An agent at its current version', params: Id, response: { 200: AgentView } } }, async (request) =>
      view(await agents.get(await context(request, 'agents.read'), request.params.id)),
    );

    app.patch(
      '/agents/:id',
      { config: write, schema: { tags, summary: 'Change an agent: creates a new immutable version', params: Id, body: AgentPatch.meta({ examples: [{ temperature: 0.7, tools: ['fetch_url'] }] }), response: { 200: AgentView } } },
      async (request) => {
        const workspace = await context(request, 'agents.write');
        const agent = await agents.update(workspace, request.params.id, request.body);
        await audit.record({ ...requestActor(request), action: 'agent.updated', workspaceId: workspace.workspaceId, target: { type: 'agent', id: agent.id }, details: { version: agent.version, fields: Object.keys(request.body).sort() } });
        return view(agent);
      },
    );

    app.delete('/agents/:id', { config: write, schema: { tags, summary: 'Delete an agent (its conversations stay readable)', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } }, async (request) => {
      const workspace = await context(request, 'agents.write');
      await agents.delete(workspace, request.params.id);
      await audit.record({ ...requestActor(request), action: 'agent.deleted', workspaceId: workspace.workspaceId, target: { type: 'agent', id: request.params.id } });
      return { ok: true as const };
    });

    app.get(
      '/agents/:id/versions',
      {
        config: read,
        schema: {
          tags,
          summary: 'Every version of an agent, newest first',
          params: Id,
          response: { 200: z.object({ versions: z.array(z.object({ version: z.number().int(), config: AgentConfig, createdBy: z.string().nullable(), createdAt: z.string() })) }) },
        },
      },
      async (request) => ({
        versions: (await agents.versions(await context(request, 'agents.read'), request.params.id)).map((v) => ({
          version: v.version,
          config: AgentConfig.parse(v.config),
          createdBy: v.created_by,
          createdAt: v.created_at.toISOString(),
        })),
      }),
    );
  };
}
