/** /api/v1/api-keys: manage personal API keys (browser session only). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SCOPES } from '../../principal.js';
import { requireSession } from '../../http/authenticate.js';
import { AppError } from '../../errors.js';
import type { ApiKeyRow } from './repo.js';
import type { ApiKeyService } from './service.js';

const ApiKeyView = z.object({
  id: z.uuid(),
  name: z.string(),
  hint: z.string().describe('Last characters of the key, to recognise it'),
  scopes: z.array(z.string()),
  allowedCidrs: z.array(z.string()),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  lastUsedIp: z.string().nullable(),
  createdAt: z.string(),
});

function view(row: ApiKeyRow): z.infer<typeof ApiKeyView> {
  return {
    id: row.id,
    name: row.name,
    hint: row.hint,
    scopes: row.scopes,
    allowedCidrs: row.allowed_cidrs,
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    lastUsedIp: row.last_used_ip,
    createdAt: row.created_at.toISOString(),
  };
}

export function apiKeyRoutes(keys: ApiKeyService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['api-keys'];
    app.get('/api-keys', { config: { access: { session: true } }, schema: { tags, summary: 'List your API keys', response: { 200: z.object({ apiKeys: z.array(ApiKeyView) }) } } }, async (request) => ({
      apiKeys: (await keys.list(requireSession(request).userId)).map(view),
    }));

    app.post(
      '/api-keys',
      {
        config: { access: { session: true } },
        schema: {
          tags,
          summary: 'Create an API key; the key is in the answer once and never again',
          body: z.strictObject({
            name: z.string().trim().min(1).max(100),
            scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
            expiresAt: z.iso.datetime({ offset: true }).optional().describe('ISO 8601; omitted: no expiry'),
            allowedCidrs: z.array(z.string().max(50)).max(20).optional().describe('IP ranges allowed to use the key, e.g. 203.0.113.0/24'),
          }),
          response: { 201: ApiKeyView.extend({ key: z.string().describe('bst_key_… — store it now; only a hash is kept') }) },
        },
      },
      async (request, reply) => {
        const user = await request.callerUser(); // refuses while MFA enrolment is required
        const { key, row } = await keys.create(
          user.id,
          {
            name: request.body.name,
            scopes: request.body.scopes,
            expiresAt: request.body.expiresAt ? new Date(request.body.expiresAt) : undefined,
            allowedCidrs: request.body.allowedCidrs,
          },
          request.actor(),
        );
        return reply.status(201).send({ ...view(row), key });
      },
    );

    app.delete('/api-keys/:id', { config: { access: { session: true } }, schema: { tags, summary: 'Revoke an API key', params: z.object({ id: z.uuid() }), response: { 200: z.object({ ok: z.literal(true) }) } } }, async (request) => {
      if (!(await keys.revoke(requireSession(request).userId, request.params.id, 'owner', request.actor()))) throw new AppError('not_found', 'No such API key.');
      return { ok: true as const };
    });
  };
}
