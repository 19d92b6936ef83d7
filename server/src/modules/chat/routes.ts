/**
 * /api/v1/conversations and /api/v1/agents/:id/runs. Posting a message answers as
 * JSON, or as Server-Sent Events with `Accept: text/event-stream`:
 * `message` (the stored user message), `delta`, `tool_call`, `tool_result`, `usage`,
 * `citations`, then `done` (the stored answer, with `error` when it failed).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ChatService, ChatStreamEvent, Conversation, Message } from './service.js';
import { openEventStream, wantsEventStream, type EventStream } from './sse.js';
import { MESSAGE_ROLES } from '../../domain/chat.js';
import { AppError } from '../../errors.js';

const Citation = z.object({ id: z.string().describe('The [n] marker in the text'), source: z.string(), text: z.string(), score: z.number() });
const MessageView = z.object({
  id: z.uuid(),
  role: z.enum(MESSAGE_ROLES),
  text: z.string(),
  status: z.enum(['complete', 'streaming', 'incomplete', 'failed']).describe('incomplete: cut short (see stopReason) but kept'),
  stopReason: z.string().nullable().describe('cancelled, disconnected, max_steps, max_tokens, max_wall_time, budget_exhausted or a provider error code'),
  citations: z.array(Citation),
  toolCalls: z.array(z.object({ name: z.string(), arguments: z.string(), ok: z.boolean() })),
  agentVersion: z.number().int().nullable(),
  model: z.string().nullable(),
  usage: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() }),
  createdAt: z.string(),
});
const ConversationView = z.object({
  id: z.uuid(),
  agentId: z.uuid(),
  agentVersion: z.number().int().describe('Agent version of the latest answer'),
  source: z.enum(['chat', 'run', 'webhook']),
  title: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const ErrorInfo = z.object({ code: z.string(), message: z.string() });
const ExchangeView = z.object({ userMessage: MessageView.optional(), answer: MessageView, error: ErrorInfo.optional() });

export function messageView(message: Message): z.infer<typeof MessageView> {
  return {
    id: message.id,
    role: message.role,
    text: message.text,
    status: message.status,
    stopReason: message.stopReason,
    citations: message.citations,
    toolCalls: message.toolCalls,
    agentVersion: message.agentVersion,
    model: message.model,
    usage: { inputTokens: message.inputTokens, outputTokens: message.outputTokens },
    createdAt: message.createdAt.toISOString(),
  };
}

function conversationView(c: Conversation): z.infer<typeof ConversationView> {
  return { id: c.id, agentId: c.agentId, agentVersion: c.agentVersion, source: c.source, title: c.title, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() };
}

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
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50), before: z.iso.datetime({ offset: true }).optional().describe('updatedAt of the last item of the previous page') }),
          response: { 200: z.object({ conversations: z.array(ConversationView) }) },
        },
      },
      async (request) => ({
        conversations: (await chat.listConversations(await request.workspace('chat.use'), request.query.limit, request.query.before ? new Date(request.query.before) : undefined)).map(conversationView),
      }),
    );

    app.post('/conversations', { config: write, schema: { tags, summary: 'Start a conversation with an agent', body: z.strictObject({ agentId: z.uuid() }), response: { 201: ConversationView } } }, async (request, reply) =>
      reply.status(201).send(conversationView(await chat.createConversation(await request.workspace('chat.use'), request.body.agentId))),
    );

    app.get('/conversations/:id', { config: read, schema: { tags, summary: 'One conversation', params: Id, response: { 200: ConversationView } } }, async (request) =>
      conversationView(await chat.getConversation(await request.workspace('chat.use'), request.params.id)),
    );

    app.delete('/conversations/:id', { config: write, schema: { tags, summary: 'Delete a conversation and its messages', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } }, async (request) => {
      await chat.deleteConversation(await request.workspace('chat.use'), request.params.id);
      return { ok: true as const };
    });

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
          body: z.strictObject({ content: Content }).meta({ examples: [{ content: 'What is our refund policy?' }] }),
          response: { 201: ExchangeView },
        },
      },
      async (request, reply) => {
        const ctx = await request.workspace('chat.use');
        await respond(request, reply, 201, (options) => chat.send(ctx, request.params.id, request.body.content, options));
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
