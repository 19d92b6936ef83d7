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
          summary: 'Add a provider connection (owner, admin)',
          body: z
            .strictObject({ name: Fields.name, kind: Kind, baseUrl: Fields.baseUrl.optional(), apiKey: Fields.apiKey.optional(), defaultModel: Fields.defaultModel.optional() })
            .meta({ examples: [{ name: 'Local Ollama', kind: 'openai', baseUrl: 'http://ollama.internal:11434/v1', defaultModel: 'llama3.1' }] }),
          response: { 201: ConnectionView },
        },
      },
      async (request, reply) => {
        const connection = await providers.create(await request.workspace('providers.write'), request.body, request.actor());
        return reply.status(201).send(view(connection));
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
          summary: 'Change a connection; apiKey null removes the key',
          params: Id,
          body: z.strictObject({ name: Fields.name.optional(), baseUrl: Fields.baseUrl.optional(), apiKey: Fields.apiKey.nullable().optional(), defaultModel: Fields.defaultModel.nullable().optional() }),
          response: { 200: ConnectionView },
        },
      },
      async (request) => view(await providers.update(await request.workspace('providers.write'), request.params.id, request.body)),
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
