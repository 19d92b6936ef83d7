/** Agent webhooks: manage the secret (/agents/:id/webhook-secret) and receive signed calls (/hooks/agents/:id). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SIGNATURE_HEADER } from '../../sdk/sign.js';
import type { WebhookService } from './service.js';
import { originOf } from '../security-events/origin.js';

export function webhookRoutes(webhooks: WebhookService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['agents'];
    const Id = z.object({ id: z.uuid() });

    app.post(
      '/agents/:id/webhook-secret',
      {
        config: { access: { scope: 'agents:write' } },
        schema: {
          tags,
          summary: 'Create or rotate the agent’s webhook secret (shown once); the previous one stays valid for overlapHours',
          params: Id,
          body: z.strictObject({ overlapHours: z.number().int().min(0).max(168).default(24) }).default({ overlapHours: 24 }),
          response: { 200: z.object({ secret: z.string().describe('bst_whsec_… — store it now'), hint: z.string(), url: z.string().describe('Where to POST signed requests') }) },
        },
      },
      async (request) => {
        const context = await request.workspace('agents.write');
        const { secret, hint } = await webhooks.rotateSecret(context, request.params.id, request.body.overlapHours);
        return { secret, hint, url: `/api/v1/hooks/agents/${request.params.id}` };
      },
    );

    app.delete(
      '/agents/:id/webhook-secret',
      { config: { access: { scope: 'agents:write' } }, schema: { tags, summary: 'Disable the agent’s webhook (deletes its secrets)', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } },
      async (request) => {
        await webhooks.disable(await request.workspace('agents.write'), request.params.id);
        return { ok: true as const };
      },
    );

    app.post(
      '/hooks/agents/:id',
      {
        config: { access: 'public', csrf: false, rateLimit: 'chat' },
        schema: {
          tags,
          summary: 'Trigger an agent run from another system; authenticated by Bastion-Signature (docs/api.md)',
          description: 'Answers 202 with the conversation id; the result is POSTed to the agent’s callbackUrl, signed the same way.',
          params: Id,
          body: z.strictObject({ input: z.string().trim().min(1).max(32_000) }).meta({ examples: [{ input: 'New ticket #4411: printer on fire' }] }),
          response: { 202: z.object({ conversationId: z.uuid(), status: z.literal('accepted') }) },
        },
      },
      async (request, reply) => {
        const header = request.headers[SIGNATURE_HEADER];
        const { conversationId } = await webhooks.receive(
          request.params.id,
          { method: request.method, url: request.url, body: request.rawBody ?? '', header: typeof header === 'string' ? header : undefined },
          request.body.input,
          originOf(request),
        );
        return reply.status(202).send({ conversationId, status: 'accepted' as const });
      },
    );
  };
}
