/**
 * /api/v1/conversations and /api/v1/agents/:id/runs. Posting a message answers as
 * JSON, or as Server-Sent Events with `Accept: text/event-stream`:
 * `message` (the stored user message), `delta`, `tool_call`, `tool_result`, `usage`,
 * `citations`, then `done` (the stored answer, with `error` when it failed).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ChatService, ChatStreamEvent, Message } from './service.js';
import { openEventStream, wantsEventStream, type EventStream } from './sse.js';
import { ConversationView, conversationView, messageView, MessageView } from './views.js';
import { AppError } from '../../errors.js';

export { messageView } from './views.js';

const ErrorInfo = z.object({ code: z.string(), message: z.string() });
const ExchangeView = z.object({ userMessage: MessageView.optional(), answer: MessageView, error: ErrorInfo.optional() });

type Exchange = { answer: Message; userMessage?: Message; error?: { code: string; message: string } };

/**
 * Runs an answer as JSON or as an event stream, depending on Accept. The stream opens
 * at the first event, so errors before it (404, budget) are ordinary JSON errors.
 */
async function respond<T extends Exchange>(request: FastifyRequest, reply: FastifyReply, status: number, run: (options: { signal: AbortSignal; emit?: (event: ChatStreamEvent) => void }) => Promise<T>): Promise<void> {
  const disconnect = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) disconnect.abort('disconnected');
  });
  if (!wantsEventStream(request)) {
    const { userMessage, answer, ...rest } = await run({ signal: disconnect.signal });
    await reply.status(status).send({ ...rest, ...(userMessage ? { userMessage: messageView(userMessage) } : {}), answer: messageView(answer) });
    return;
  }
  let stream: EventStream | null = null;
  let sentToken = false;
  const emit = (event: ChatStreamEvent) => {
    stream ??= openEventStream(reply);
    if (event.type === 'message') stream.send('message', { message: messageView(event.message), answerId: event.answerId });
    else if (event.type === 'done') stream.send('done', { message: messageView(event.message), ...(event.error ? { error: event.error } : {}) });
    else {
      const { type, ...data } = event;
      // The first token goes out at once (time to first token); the following ones may be coalesced.
      stream.send(type, data, type === 'delta' && !sentToken);
      if (type === 'delta') sentToken = true;
    }
  };
  try {
    await run({ signal: disconnect.signal, emit });
  } catch (error) {
    if (!stream) throw error;
    // The stream is open: the failure becomes its terminal event, with the code a JSON reply would have.
    if (error instanceof AppError) {
      request.log.warn({ err: error }, 'answer stream ended with an error');
      (stream as EventStream).send('error', { code: error.code, message: error.message });
    } else {
      request.log.error({ err: error }, 'answer stream failed');
      (stream as EventStream).send('error', { code: 'internal_error', message: 'The answer failed; try again.' });
    }
  }
  (stream as EventStream | null)?.end();
}

export function chatRoutes(chat: ChatService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['conversations'];
    const read = { access: { scope: 'conversations:read' as const } };
    const write = { access: { scope: 'conversations:write' as const } };
    const chatLimited = { ...write, rateLimit: 'chat' as const };
    const Id = z.object({ id: z.uuid() });
    const Content = z.string().trim().min(1).max(32_000).describe('The question or instruction');
    const streamDoc = 'With `Accept: text/event-stream` the answer streams as Server-Sent Events (message, delta, tool_call, tool_result, usage, citations, done).';

    app.get(
      '/conversations',
      {
        config: read,
        schema: {
          tags,
          summary: 'Your conversations in this workspace, most recent first',
          description: 'Deleted conversations are never listed; archived ones only with archived=true.',
          querystring: z.object({
            limit: z.coerce.number().int().min(1).max(100).default(50),
            before: z.iso.datetime({ offset: true }).optional().describe('updatedAt of the last item of the previous page'),
            archived: z.enum(['true', 'false']).default('false').describe('true: the archived conversations instead of the others'),
            pinned: z.enum(['true', 'false']).optional().describe('Only pinned (true) or only unpinned (false) conversations'),
          }),
          response: { 200: z.object({ conversations: z.array(ConversationView) }) },
        },
      },
      async (request) => {
        const { limit, before, archived, pinned } = request.query;
        const filter = { archived: archived === 'true', pinned: pinned === undefined ? undefined : pinned === 'true' };
        return { conversations: (await chat.listConversations(await request.workspace('chat.use'), limit, before ? new Date(before) : undefined, filter)).map(conversationView) };
      },
    );

    app.post('/conversations', { config: write, schema: { tags, summary: 'Start a conversation with an agent', body: z.strictObject({ agentId: z.uuid() }), response: { 201: ConversationView } } }, async (request, reply) =>
      reply.status(201).send(conversationView(await chat.createConversation(await request.workspace('chat.use'), request.body.agentId))),
    );

    app.get('/conversations/:id', { config: read, schema: { tags, summary: 'One conversation', params: Id, response: { 200: ConversationView } } }, async (request) =>
      conversationView(await chat.getConversation(await request.workspace('chat.use'), request.params.id)),
    );

    app.get(
      '/conversations/:id/messages',
      {
        config: read,
        schema: {
          tags,
          summary: 'Messages, oldest first',
          params: Id,
          querystring: z.object({ includeSuperseded: z.enum(['true', 'false']).default('false').describe('Also answers replaced by a regeneration') }),
          response: { 200: z.object({ messages: z.array(MessageView) }) },
        },
      },
      async (request) => ({ messages: (await chat.messages(await request.workspace('chat.use'), request.params.id, request.query.includeSuperseded === 'true')).map(messageView) }),
    );

    app.post(
      '/conversations/:id/messages',
      {
        config: chatLimited,
        schema: {
          tags,
          summary: 'Send a message and get the answer',
          description: `The user message is stored first; the answer is stored as it completes, and kept (status incomplete) if cut short. ${streamDoc}`,
          params: Id,
          body: z
            .strictObject({
              content: Content,
              model: z.string().trim().min(1).max(200).optional().describe('Answer with this model instead of the agent’s: one of GET /agents/:id/models, when the agent allows it (else 400 model_not_allowed)'),
            })
            .meta({ examples: [{ content: 'What is our refund policy?' }] }),
          response: { 201: ExchangeView },
        },
      },
      async (request, reply) => {
        const ctx = await request.workspace('chat.use');
        await respond(request, reply, 201, (options) => chat.send(ctx, request.params.id, request.body.content, { ...options, model: request.body.model }));
      },
    );

    app.post(
      '/conversations/:id/regenerate',
      { config: chatLimited, schema: { tags, summary: 'Answer the last message again (the previous answer is kept, hidden)', description: streamDoc, params: Id, response: { 201: ExchangeView } } },
      async (request, reply) => {
        const ctx = await request.workspace('chat.use');
        await respond(request, reply, 201, (options) => chat.regenerate(ctx, request.params.id, options));
      },
    );

    app.post('/conversations/:id/cancel', { config: write, schema: { tags, summary: 'Stop the answer being generated; what was produced is kept', params: Id, response: { 200: z.object({ cancelled: z.boolean() }) } } }, async (request) =>
      chat.cancel(await request.workspace('chat.use'), request.params.id),
    );

    app.post(
      '/agents/:id/runs',
      {
        config: chatLimited,
        schema: {
          tags: ['agents'],
          summary: 'Run an agent headless on one input (for integrations); recorded as a conversation',
          description: streamDoc,
          params: Id,
          body: z.strictObject({ input: Content }).meta({ examples: [{ input: 'Summarise yesterday’s incidents.' }] }),
          response: { 201: ExchangeView.extend({ conversationId: z.uuid() }) },
        },
      },
      async (request, reply) => {
        const ctx = await request.workspace('chat.use');
        const conversation = await chat.createConversation(ctx, request.params.id, 'run');
        await respond(request, reply, 201, async (options) => ({ ...(await chat.send(ctx, conversation.id, request.body.input, options)), conversationId: conversation.id }));
      },
    );
  };
}
