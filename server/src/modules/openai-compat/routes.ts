/**
 * The OpenAI-compatible API, mounted at /v1 (http/api-paths.ts): `POST /v1/chat/completions`,
 * `GET /v1/models` and `GET /v1/models/:id`. Point any OpenAI client at it:
 * `new OpenAI({ baseURL: 'https://bastion.example.org/v1', apiKey: 'bst_key_…' })`.
 * API keys and access tokens with the `agents:invoke` scope only (no browser sessions,
 * so no CSRF); rate-limited as chat messages; errors in OpenAI's shape (http/openai-errors.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.js';
import { MAX_WALL_TIME_MS } from '../agents/config.js';
import type { CompletionOptions } from '../chat/completion.js';
import { WORKSPACE_HEADER } from '../workspaces/context.js';
import { respondJson, respondStream } from './respond.js';
import { ChatCompletion, ChatCompletionBody, ModelList, ModelView } from './schema.js';
import type { OpenAiCompatService } from './service.js';
import { modelView, type CompletionMeta } from './views.js';

/** X-Workspace-Id as sent, or undefined: every workspace of the caller. */
function workspaceHeader(request: FastifyRequest): string | undefined {
  const value = request.headers[WORKSPACE_HEADER];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A non-streamed answer waits for the whole answer: the longest an agent may take, plus retrieval and the audit entry. */
const COMPLETION_TIMEOUT_MS = MAX_WALL_TIME_MS + 30_000;

export function openAiRoutes(service: OpenAiCompatService, clock: Clock): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['openai-compatible'];
    const access = { scope: 'agents:invoke' as const, bearer: true as const };
    const workspaceDoc = 'With `X-Workspace-Id`, only that workspace’s agents.';

    app.get(
      '/models',
      { config: { access }, schema: { tags, summary: 'The agents you can run, as OpenAI models (id = agent id)', description: `Agents of every workspace you belong to. ${workspaceDoc}`, response: { 200: ModelList } } },
      async (request) => ({ object: 'list' as const, data: (await service.models(request.callerId(), workspaceHeader(request))).map(modelView) }),
    );

    app.get(
      '/models/:id',
      {
        config: { access },
        schema: {
          tags,
          summary: 'One agent as an OpenAI model',
          description: '404 `model_not_found` for an unknown agent and for one of a workspace you do not belong to.',
          params: z.object({ id: z.string().max(200) }),
          response: { 200: ModelView },
        },
      },
      async (request) => modelView(await service.model(request.callerId(), request.params.id, workspaceHeader(request))),
    );

    app.post(
      '/chat/completions',
      {
        config: { access, rateLimit: 'chat' },
        handlerTimeout: COMPLETION_TIMEOUT_MS,
        schema: {
          tags,
          summary: 'Ask an agent, OpenAI style (nothing is stored; audited and budgeted like chat)',
          description:
            'The agent’s system prompt comes first; system messages are added after it as further instructions. With `stream: true` the answer streams as `chat.completion.chunk` Server-Sent Events ending with `data: [DONE]`. Citations of the agent’s knowledge are in `bastion.citations`. See docs/api.md.',
          body: ChatCompletionBody,
          response: { 200: ChatCompletion },
        },
      },
      async (request, reply) => {
        const meta: CompletionMeta = { id: `chatcmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(clock.now().getTime() / 1000), model: request.body.model };
        const run = (options: CompletionOptions) => service.complete(request.callerId(), workspaceHeader(request), request.body, request.actor(), options);
        if (request.body.stream !== true) return respondJson(reply, meta, run);
        await respondStream(request, reply, meta, request.body.stream_options?.include_usage === true, run);
        return reply;
      },
    );
  };
}
