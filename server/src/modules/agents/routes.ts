/** /api/v1/agents: agents of the caller's workspace, with their version history. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
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

export function agentRoutes(agents: AgentService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['agents'];
    const read = { access: { scope: 'agents:read' as const } };
    const write = { access: { scope: 'agents:write' as const } };
    const Id = z.object({ id: z.uuid() });

    app.get('/agents', { config: read, schema: { tags, summary: 'List agents, most recently changed first', response: { 200: z.object({ agents: z.array(AgentView) }) } } }, async (request) => ({
      agents: (await agents.list(await request.workspace('agents.read'))).map(view),
    }));

    app.post('/agents', { config: write, schema: { tags, summary: 'Create an agent (version 1)', body: AgentConfig.meta({ examples: [EXAMPLE] }), response: { 201: AgentView } } }, async (request, reply) => {
      const agent = await agents.create(await request.workspace('agents.write'), request.body, request.actor());
      return reply.status(201).send(view(agent));
    });

    app.get('/agents/:id', { config: read, schema: { tags, summary: 'An agent at its current version', params: Id, response: { 200: AgentView } } }, async (request) =>
      view(await agents.get(await request.workspace('agents.read'), request.params.id)),
    );

    app.patch(
      '/agents/:id',
      { config: write, schema: { tags, summary: 'Change an agent: creates a new immutable version', params: Id, body: AgentPatch.meta({ examples: [{ temperature: 0.7, tools: ['fetch_url'] }] }), response: { 200: AgentView } } },
      async (request) => {
        return view(await agents.update(await request.workspace('agents.write'), request.params.id, request.body, request.actor()));
      },
    );

    app.delete('/agents/:id', { config: write, schema: { tags, summary: 'Delete an agent (its conversations stay readable)', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } }, async (request) => {
      await agents.delete(await request.workspace('agents.write'), request.params.id, request.actor());
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
        versions: (await agents.versions(await request.workspace('agents.read'), request.params.id)).map((v) => ({
          version: v.version,
          config: AgentConfig.parse(v.config),
          createdBy: v.created_by,
          createdAt: v.created_at.toISOString(),
        })),
      }),
    );
  };
}
