/** /api/v1/provider-connections: LLM endpoints of the caller's workspace. Keys are write-only. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectionRow } from './repo.js';
import type { ProviderService } from './service.js';
import { PROVIDER_KINDS } from '../../domain/providers.js';

const Kind = z.enum(PROVIDER_KINDS).describe('openai: any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio, OpenRouter); anthropic: the Messages API');
const ConnectionView = z.object({
  id: z.uuid(),
  name: z.string(),
  kind: Kind,
  baseUrl: z.string(),
  defaultModel: z.string().nullable(),
  hasApiKey: z.boolean(),
  apiKeyHint: z.string().nullable().describe('Prefix and last characters of the key; the key itself is never returned'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const Fields = {
  name: z.string().trim().min(1).max(100),
  baseUrl: z.string().max(500).describe('e.g. https://api.openai.com/v1, http://ollama.internal:11434/v1, https://api.anthropic.com'),
  apiKey: z.string().min(1).max(4096).describe('Stored encrypted; never returned'),
  defaultModel: z.string().trim().min(1).max(200),
};

const SaveTest = z
  .object({ models: z.array(z.string()).nullable().describe('Model ids the provider listed; null when it lists none') })
  .nullable()
  .describe('What trying the connection before saving found; null when the try was skipped (skipTest, or only the name or default model changed)');
const SavedView = ConnectionView.extend({ test: SaveTest });
const SkipTest = z
  .boolean()
  .optional()
  .describe(
    'Save without trying the connection first (a provider that is not up yet). By default a new base URL or key is tried with the provider’s model list, and a failure (provider_blocked, provider_unavailable, provider_auth_failed, …; HTTP 422) saves nothing',
  );

function saved({ connection, test }: { connection: ConnectionRow; test: z.infer<typeof SaveTest> }): z.infer<typeof SavedView> {
  return { ...view(connection), test };
}

function view(row: ConnectionRow): z.infer<typeof ConnectionView> {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    baseUrl: row.base_url,
    defaultModel: row.default_model,
    hasApiKey: row.credentials !== null,
    apiKeyHint: row.credential_hint,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function providerRoutes(providers: ProviderService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['provider-connections'];
    const read = { access: { scope: 'providers:read' as const } };
    const write = { access: { scope: 'providers:write' as const } };
    const Id = z.object({ id: z.uuid() });

    app.get(
      '/provider-connections',
      { config: read, schema: { tags, summary: 'List provider connections (agents without one use the built-in extractive provider)', response: { 200: z.object({ connections: z.array(ConnectionView) }) } } },
      async (request) => ({
        connections: (await providers.list(await request.workspace('providers.read'))).map(view),
      }),
    );

    app.post(
      '/provider-connections',
      {
        config: write,
        schema: {
          tags,
          summary: 'Add a provider connection (owner, admin); it is tried first and not saved when the try fails',
          body: z
            .strictObject({ name: Fields.name, kind: Kind, baseUrl: Fields.baseUrl.optional(), apiKey: Fields.apiKey.optional(), defaultModel: Fields.defaultModel.optional(), skipTest: SkipTest })
            .meta({ examples: [{ name: 'Local Ollama', kind: 'openai', baseUrl: 'http://ollama.internal:11434/v1', defaultModel: 'llama3.1' }] }),
          response: { 201: SavedView },
        },
      },
      async (request, reply) => {
        const result = await providers.create(await request.workspace('providers.write'), request.body, request.actor());
        return reply.status(201).send(saved(result));
      },
    );

    app.get('/provider-connections/:id', { config: read, schema: { tags, summary: 'One provider connection', params: Id, response: { 200: ConnectionView } } }, async (request) =>
      view(await providers.get(await request.workspace('providers.read'), request.params.id)),
    );

    app.patch(
      '/provider-connections/:id',
      {
        config: write,
        schema: {
          tags,
          summary: 'Change a connection; apiKey null removes the key; a new baseUrl or apiKey is tried first',
          params: Id,
          body: z.strictObject({ name: Fields.name.optional(), baseUrl: Fields.baseUrl.optional(), apiKey: Fields.apiKey.nullable().optional(), defaultModel: Fields.defaultModel.nullable().optional(), skipTest: SkipTest }),
          response: { 200: SavedView },
        },
      },
      async (request) => saved(await providers.update(await request.workspace('providers.write'), request.params.id, request.body)),
    );

    app.get(
      '/provider-connections/:id/models',
      {
        config: read,
        schema: {
          tags,
          summary: 'The model ids the connection’s provider offers, for picking an agent’s model (every member; cached for a minute)',
          params: Id,
          querystring: z.object({ refresh: z.enum(['true', 'false']).optional().describe('Ask the provider again instead of answering from the cache') }),
          response: { 200: z.object({ models: z.array(z.string()), cached: z.boolean().describe('Answered from the short-lived cache') }) },
        },
      },
      async (request) => providers.listModels(await request.workspace('providers.read'), request.params.id, { refresh: request.query.refresh === 'true' }),
    );

    app.delete('/provider-connections/:id', { config: write, schema: { tags, summary: 'Delete a connection no agent uses', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } }, async (request) => {
      await providers.delete(await request.workspace('providers.write'), request.params.id, request.actor());
      return { ok: true as const };
    });

    app.post(
      '/provider-connections/:id/test',
      {
        config: write,
        schema: {
          tags,
          summary: 'Check the endpoint and key with the provider’s cheapest call',
          params: Id,
          response: { 200: z.object({ ok: z.boolean(), models: z.array(z.string()).optional(), error: z.object({ code: z.string(), message: z.string() }).optional() }) },
        },
      },
      async (request) => providers.test(await request.workspace('providers.write'), request.params.id),
    );
  };
}
