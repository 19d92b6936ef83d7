/**
 * Organising and exporting one's conversations: PATCH (rename, pin, archive), DELETE (with
 * undo: POST …/restore within the window) and GET …/export as Markdown or JSON. Like every
 * conversation route, only the conversation's owner reaches it; anyone else gets 404.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MESSAGE_ROLES, MESSAGE_STATUSES } from '../../domain/chat.js';
import type { ConversationExport, ConversationExporter } from './export.js';
import { exportFilename, renderMarkdown } from './export-markdown.js';
import { RESTORE_WINDOW_MS, type ConversationOrganiser } from './organise.js';
import { ConversationView, conversationView } from './views.js';

export const TITLE_MAX = 200;
// C0/C1 controls, line and paragraph separators, and the bidirectional marks and overrides that make a title read as something else.
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

const Title = z
  .string()
  .trim()
  .min(1, 'a title cannot be empty')
  .max(TITLE_MAX, `a title has at most ${TITLE_MAX} characters`)
  .refine((title) => !UNPRINTABLE.test(title), 'a title cannot contain control characters (line breaks, tabs, direction overrides)')
  .describe(`The new title, one line of at most ${TITLE_MAX} characters`);

const ExportCitation = z.object({
  marker: z.string().describe('The [n] marker in the message text'),
  source: z.string().describe('As shown in the chat: document name, heading and chunk'),
  text: z.string().describe('The passage cited'),
  score: z.number(),
  documentId: z.string().nullable().describe('null on answers stored before the origin of passages was recorded'),
  knowledgeBaseId: z.string().nullable(),
  document: z.string().nullable().describe('The document’s file name'),
  heading: z.string().nullable(),
  chunk: z.number().int().nullable().describe('1-based position of the chunk in the document'),
});
const ExportView = z
  .object({
    format: z.literal('bastion.conversation.v1'),
    exportedAt: z.string(),
    conversation: ConversationView,
    agent: z.object({ id: z.string(), name: z.string().nullable().describe('null: the agent was deleted since'), version: z.number().int() }),
    messages: z.array(
      z.object({
        id: z.string(),
        role: z.enum(MESSAGE_ROLES),
        text: z.string(),
        status: z.enum(MESSAGE_STATUSES),
        stopReason: z.string().nullable(),
        model: z.string().nullable(),
        agentVersion: z.number().int().nullable(),
        usage: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() }),
        createdAt: z.string(),
        citations: z.array(ExportCitation),
        toolCalls: z.array(z.object({ name: z.string(), arguments: z.string(), ok: z.boolean() })),
      }),
    ),
  })
  .describe('format=json');
const ExportAnswer = z.union([ExportView, z.string().describe('format=markdown: the same as a text/markdown document')]);

function exportView(doc: ConversationExport): z.infer<typeof ExportView> {
  return {
    format: 'bastion.conversation.v1',
    exportedAt: doc.exportedAt.toISOString(),
    conversation: conversationView(doc.conversation),
    agent: doc.agent,
    messages: doc.messages.map((m) => ({
      id: m.id,
      role: m.role,
      text: m.text,
      status: m.status,
      stopReason: m.stopReason,
      model: m.model,
      agentVersion: m.agentVersion,
      usage: { inputTokens: m.inputTokens, outputTokens: m.outputTokens },
      createdAt: m.createdAt.toISOString(),
      citations: m.citations,
      toolCalls: m.toolCalls.map((t) => ({ name: t.name, arguments: t.arguments, ok: t.ok })),
    })),
  };
}

export function organiseRoutes(organiser: ConversationOrganiser, exporter: ConversationExporter): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['conversations'];
    const read = { access: { scope: 'conversations:read' as const } };
    const write = { access: { scope: 'conversations:write' as const } };
    const Id = z.object({ id: z.uuid() });

    app.patch(
      '/conversations/:id',
      {
        config: write,
        schema: {
          tags,
          summary: 'Rename, pin or archive a conversation',
          description: 'The fields sent change together, or none does. Pinning or archiving does not move the conversation in the list (updatedAt stays).',
          params: Id,
          body: z
            .strictObject({ title: Title.optional(), pinned: z.boolean().optional().describe('Pin to the top of the list'), archived: z.boolean().optional().describe('Move out of the main list') })
            .refine((body) => Object.keys(body).length > 0, 'name at least one of title, pinned, archived')
            .meta({ examples: [{ title: 'Refund policy questions' }, { pinned: true }, { archived: true }] }),
          response: { 200: ConversationView },
        },
      },
      async (request) => conversationView(await organiser.organise(await request.workspace('chat.use'), request.params.id, request.body)),
    );

    app.delete(
      '/conversations/:id',
      {
        config: write,
        schema: {
          tags,
          summary: 'Delete a conversation and its messages (restorable for a short time)',
          description: `The conversation leaves lists and reads at once; POST …/restore brings it back until restorableUntil (${RESTORE_WINDOW_MS / 1000} s), after which it is purged with its messages.`,
          params: Id,
          response: { 200: z.object({ ok: z.literal(true), restorableUntil: z.string().describe('Until when POST …/restore undoes the deletion') }) },
        },
      },
      async (request) => {
        const { restorableUntil } = await organiser.remove(await request.workspace('chat.use'), request.params.id);
        return { ok: true as const, restorableUntil: restorableUntil.toISOString() };
      },
    );

    app.post(
      '/conversations/:id/restore',
      {
        config: write,
        schema: {
          tags,
          summary: 'Undo the deletion of a conversation, within its window',
          description: 'A conversation that is not deleted is answered as it is; one deleted too long ago is 404.',
          params: Id,
          response: { 200: ConversationView },
        },
      },
      async (request) => conversationView(await organiser.restore(await request.workspace('chat.use'), request.params.id)),
    );

    app.get(
      '/conversations/:id/export',
      {
        config: read,
        schema: {
          tags,
          summary: 'Download a conversation as Markdown or JSON, with its citations',
          description: 'An attachment (Content-Disposition): format=markdown (text/markdown) or format=json (application/json). The messages shown in the chat, with role, time, model and the passages they cite.',
          params: Id,
          querystring: z.object({ format: z.enum(['markdown', 'json']).default('markdown') }),
          response: { 200: ExportAnswer },
        },
      },
      async (request, reply) => {
        const doc = await exporter.export(await request.workspace('chat.use'), request.params.id);
        const markdown = request.query.format === 'markdown';
        reply.header('content-disposition', `attachment; filename="${exportFilename(doc.conversation, markdown ? 'md' : 'json')}"`);
        if (markdown) return reply.type('text/markdown; charset=utf-8').send(renderMarkdown(doc));
        return reply.type('application/json; charset=utf-8').send(exportView(doc));
      },
    );
  };
}
