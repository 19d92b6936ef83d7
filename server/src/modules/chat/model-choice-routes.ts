/**
 * GET /api/v1/agents/:id/models: the models a member may pick for a message to the agent.
 * Scope conversations:read, permission chat.use: whoever may chat with the agent learns
 * the choices, without needing the agents:read scope for its whole configuration.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ModelChoice } from './model-choice.js';

export const ModelChoicesView = z.object({
  defaultModel: z.string().describe('The agent’s own model: used when a message names none'),
  allowOverride: z.boolean().describe('The agent lets members pick the model (allowModelOverride, and it has a provider connection)'),
  models: z.array(z.string()).describe('What may be sent as `model` with a message besides the default: the agent’s allowedModels, else the connection’s models; empty when picking is off'),
  cached: z.boolean().describe('The list was not fetched from the provider just now'),
});

export function modelChoiceRoutes(choice: ModelChoice): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/agents/:id/models',
      {
        config: { access: { scope: 'conversations:read' as const } },
        schema: {
          tags: ['agents'],
          summary: 'The models a member may pick for a message to this agent (every role that may chat)',
          description: 'The connection’s list is cached for a minute and shared with GET /provider-connections/:id/models; refresh=true asks the provider again (concurrent refreshes share one call).',
          params: z.object({ id: z.uuid() }),
          querystring: z.object({ refresh: z.enum(['true', 'false']).optional().describe('Ask the provider again instead of answering from the cache') }),
          response: { 200: ModelChoicesView },
        },
      },
      async (request) => choice.choices(await request.workspace('chat.use'), request.params.id, { refresh: request.query.refresh === 'true' }),
    );
  };
}
