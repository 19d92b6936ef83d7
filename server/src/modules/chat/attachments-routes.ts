/**
 * /api/v1/conversations/:id/attachments: files attached to a conversation's questions. Like
 * every conversation route, only the conversation's owner reaches them; anyone else gets 404.
 */
import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { DocumentRow } from '../knowledge/service.js';
import type { ConversationAttachments } from './attachments.js';

const AttachmentView = z.object({
  id: z.uuid(),
  filename: z.string().describe('As cited in answers'),
  kind: z.enum(['txt', 'md', 'html', 'pdf', 'docx', 'csv', 'json']).describe('Detected from the content'),
  sizeBytes: z.number().int(),
  status: z.enum(['pending', 'scanning', 'processing', 'ready', 'failed', 'quarantined']).describe('ready: answers can cite it'),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  chunkCount: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function attachmentView(row: DocumentRow): z.infer<typeof AttachmentView> {
  return {
    id: row.id,
    filename: row.filename,
    kind: row.kind,
    sizeBytes: Number(row.size_bytes),
    status: row.status,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    chunkCount: row.chunk_count,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function attachmentRoutes(attachments: ConversationAttachments, maxFileBytes: number): FastifyPluginAsyncZod {
  return async (app) => {
    // The same bounds as knowledge uploads: one file per request, streamed, names kept as sent so path names are refused.
    await app.register(fastifyMultipart, { preservePath: true, limits: { files: 1, fileSize: maxFileBytes + 1, fields: 4, parts: 5, fieldSize: 1_000, headerPairs: 50 } });
    const tags = ['conversations'];
    const read = { access: { scope: 'conversations:read' as const } };
    const write = { access: { scope: 'conversations:write' as const } };
    const Id = z.object({ id: z.uuid() });

    app.post(
      '/conversations/:id/attachments',
      {
        config: { ...write, rateLimit: 'upload' },
        schema: {
          tags,
          summary: 'Attach a file to the conversation (multipart, one part named "file")',
          description:
            'The same checks as a knowledge upload (txt, md, html, pdf, docx, csv, json detected from the content; UPLOAD_MAX_BYTES; malware scan; a trial read), then ingested in the background (status processing → ready). Once ready, the agent’s answers in this conversation search it and cite it by its file name. Deleted with the conversation.',
          params: Id,
          response: { 202: AttachmentView },
        },
      },
      async (request, reply) => {
        const ctx = await request.workspace('chat.use');
        const part = request.isMultipart() ? await request.file() : undefined;
        if (!part || part.fieldname !== 'file') throw new AppError('validation_failed', 'Send the file as a multipart/form-data part named "file".', [{ path: 'file', message: 'missing' }]);
        const row = await attachments.attach(ctx, request.params.id, { filename: part.filename, mimetype: part.mimetype, stream: part.file }, request.actor());
        return reply.status(202).send(attachmentView(row));
      },
    );

    app.get(
      '/conversations/:id/attachments',
      { config: read, schema: { tags, summary: 'Files attached to the conversation, newest first, with their status', params: Id, response: { 200: z.object({ attachments: z.array(AttachmentView) }) } } },
      async (request) => ({ attachments: (await attachments.list(await request.workspace('chat.use'), request.params.id)).map(attachmentView) }),
    );

    app.delete(
      '/conversations/:id/attachments/:docId',
      {
        config: write,
        schema: { tags, summary: 'Remove an attached file with its original and index entries', params: z.object({ id: z.uuid(), docId: z.uuid() }), response: { 200: z.object({ ok: z.literal(true) }) } },
      },
      async (request) => {
        await attachments.remove(await request.workspace('chat.use'), request.params.id, request.params.docId, request.actor());
        return { ok: true as const };
      },
    );
  };
}
