/** /api/v1/knowledge-bases: bases, documents (multipart upload or {url}) and search, in the caller's workspace. */
import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, withoutClientText } from '../../errors.js';
import type { BaseRow, DocumentRow } from './repo.js';
import { RERANK_CANDIDATES } from './reranking.js';
import type { KnowledgeService } from './service.js';

const Embedding = z
  .strictObject({ connectionId: z.uuid().describe('An OpenAI-compatible provider connection of the workspace'), model: z.string().trim().min(1).max(200).describe('e.g. text-embedding-3-small') })
  .describe('The embedding model for vector search (needs pgvector); null: full-text search only');
const Rerank = z
  .strictObject({
    connectionId: z.uuid().describe('A provider connection of the workspace (OpenAI-compatible or Anthropic)'),
    model: z.string().trim().min(1).max(200).describe('A rerank model (e.g. bge-reranker-v2-m3) where the server has a /rerank endpoint, otherwise a chat model that judges relevance'),
  })
  .describe(`Rescore the best ${RERANK_CANDIDATES} results of each search with this model (latency and tokens are recorded); null: no reranking`);
const BaseView = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  embedding: Embedding.nullable(),
  rerank: Rerank.nullable(),
  version: z.number().int().describe('Changes whenever the base or its documents change'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const DocumentView = z.object({
  id: z.uuid(),
  knowledgeBaseId: z.uuid(),
  filename: z.string(),
  kind: z.enum(['txt', 'md', 'html', 'pdf', 'docx', 'csv', 'json']),
  source: z.enum(['upload', 'url']),
  sourceUrl: z.string().nullable(),
  sizeBytes: z.number().int(),
  contentHash: z.string().describe('SHA-256 of the original'),
  status: z.enum(['pending', 'scanning', 'processing', 'ready', 'failed', 'quarantined']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  title: z.string().nullable(),
  chunkCount: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const Hit = z.object({
  documentId: z.uuid(),
  knowledgeBaseId: z.uuid(),
  chunkId: z.uuid(),
  filename: z.string(),
  title: z.string().nullable(),
  position: z.number().int().describe('Chunk order in the document, from 0'),
  heading: z.string().nullable(),
  text: z.string(),
  score: z.number().describe('Relative to the best hit (1.0)'),
});

function baseView(row: BaseRow): z.infer<typeof BaseView> {
  const embedding = row.embedding_connection_id && row.embedding_model ? { connectionId: row.embedding_connection_id, model: row.embedding_model } : null;
  const rerank = row.rerank_connection_id && row.rerank_model ? { connectionId: row.rerank_connection_id, model: row.rerank_model } : null;
  return { id: row.id, name: row.name, description: row.description, embedding, rerank, version: Number(row.version), createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString() };
}

export function documentView(row: DocumentRow): z.infer<typeof DocumentView> {
  return {
    id: row.id,
    knowledgeBaseId: row.knowledge_base_id,
    filename: row.filename,
    kind: row.kind,
    source: row.source,
    sourceUrl: row.source_url,
    sizeBytes: Number(row.size_bytes),
    contentHash: row.content_hash,
    status: row.status,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    title: row.title,
    chunkCount: row.chunk_count,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const UrlBody = z.strictObject({ url: z.url({ protocol: /^https?$/ }).max(2_000) });

export function knowledgeRoutes(knowledge: KnowledgeService, maxFileBytes: number): FastifyPluginAsyncZod {
  return async (app) => {
    // Only here: uploads stream part by part, one file per request, bounded.
    // preservePath: the filename as sent, so names with directories are refused, not silently cut.
    await app.register(fastifyMultipart, { preservePath: true, limits: { files: 1, fileSize: maxFileBytes + 1, fields: 4, parts: 5, fieldSize: 1_000, headerPairs: 50 } });
    const tags = ['knowledge'];
    const read = { access: { scope: 'knowledge:read' as const } };
    const write = { access: { scope: 'knowledge:write' as const } };
    const Id = z.object({ id: z.uuid() });
    const DocId = z.object({ id: z.uuid(), docId: z.uuid() });

    app.get('/knowledge-bases', { config: read, schema: { tags, summary: 'Knowledge bases of the workspace', response: { 200: z.object({ knowledgeBases: z.array(BaseView) }) } } }, async (request) => ({
      knowledgeBases: (await knowledge.list(await request.workspace('knowledge.read'))).map(baseView),
    }));

    app.post(
      '/knowledge-bases',
      {
        config: write,
        schema: {
          tags,
          summary: 'Create a knowledge base',
          body: z
            .strictObject({ name: z.string().trim().min(1).max(100), description: z.string().max(1_000).optional(), embedding: Embedding.nullable().optional(), rerank: Rerank.nullable().optional() })
            .meta({ examples: [{ name: 'Handbook', description: 'Policies and how-tos' }] }),
          response: { 201: BaseView },
        },
      },
      async (request, reply) => {
        const base = await knowledge.create(await request.workspace('knowledge.write'), request.body, request.actor());
        return reply.status(201).send(baseView(base));
      },
    );

    app.get('/knowledge-bases/:id', { config: read, schema: { tags, summary: 'One knowledge base', params: Id, response: { 200: BaseView } } }, async (request) =>
      baseView(await knowledge.get(await request.workspace('knowledge.read'), request.params.id)),
    );

    app.patch(
      '/knowledge-bases/:id',
      {
        config: write,
        schema: {
          tags,
          summary: 'Rename or describe a knowledge base, change its embedding model (existing chunks are embedded again in the background) or its reranking',
          params: Id,
          body: z.strictObject({ name: z.string().trim().min(1).max(100).optional(), description: z.string().max(1_000).optional(), embedding: Embedding.nullable().optional(), rerank: Rerank.nullable().optional() }),
          response: { 200: BaseView },
        },
      },
      async (request) => baseView(await knowledge.update(await request.workspace('knowledge.write'), request.params.id, request.body, request.actor())),
    );

    app.delete('/knowledge-bases/:id', { config: write, schema: { tags, summary: 'Delete a knowledge base with its documents, originals and index', params: Id, response: { 200: z.object({ ok: z.literal(true) }) } } }, async (request) => {
      await knowledge.delete(await request.workspace('knowledge.write'), request.params.id, request.actor());
      return { ok: true as const };
    });

    app.get(
      '/knowledge-bases/:id/documents',
      { config: read, schema: { tags, summary: 'Documents, newest first, with their ingestion status', params: Id, response: { 200: z.object({ documents: z.array(DocumentView) }) } } },
      async (request) => ({
        documents: (await knowledge.documents(await request.workspace('knowledge.read'), request.params.id)).map(documentView),
      }),
    );

    app.post(
      '/knowledge-bases/:id/documents',
      {
        config: { ...write, rateLimit: 'upload' },
        schema: {
          tags,
          summary: 'Add a document: a multipart upload (one part named "file"), or JSON {"url": "https://…"}',
          description:
            'Accepted: txt, md, html, pdf, docx, csv, json, detected from the content. The file is checked (type, size, quota, malware, a trial read) before anything is stored; then it is ingested in the background (status scanning → processing → ready).',
          params: Id,
          response: { 202: DocumentView },
        },
      },
      async (request, reply) => {
        const ctx = await request.workspace('knowledge.write');
        if (request.isMultipart()) {
          const part = await request.file();
          if (!part || part.fieldname !== 'file') throw new AppError('validation_failed', 'Send the document as a multipart part named "file".', [{ path: 'file', message: 'missing' }]);
          const row = await knowledge.upload(ctx, request.params.id, { filename: part.filename, mimetype: part.mimetype, stream: part.file }, request.actor());
          return reply.status(202).send(documentView(row));
        }
        const body = UrlBody.safeParse(request.body);
        if (!body.success)
          throw new AppError(
            'validation_failed',
            'Send a multipart upload, or JSON {"url": "https://…"}.',
            body.error.issues.map((issue) => ({ path: issue.path.join('.') || 'body', message: withoutClientText(issue.message) })),
          );
        const row = await knowledge.addUrl(ctx, request.params.id, body.data.url, request.actor());
        return reply.status(202).send(documentView(row));
      },
    );

    app.get('/knowledge-bases/:id/documents/:docId', { config: read, schema: { tags, summary: 'One document and its status', params: DocId, response: { 200: DocumentView } } }, async (request) =>
      documentView(await knowledge.document(await request.workspace('knowledge.read'), request.params.id, request.params.docId)),
    );

    app.delete(
      '/knowledge-bases/:id/documents/:docId',
      { config: write, schema: { tags, summary: 'Delete a document, its original, chunks and index entries', params: DocId, response: { 200: z.object({ ok: z.literal(true) }) } } },
      async (request) => {
        await knowledge.deleteDocument(await request.workspace('knowledge.write'), request.params.id, request.params.docId, request.actor());
        return { ok: true as const };
      },
    );

    app.post(
      '/knowledge-bases/:id/search',
      {
        config: { ...read, rateLimit: 'read' },
        schema: {
          tags,
          summary: 'Search the base: ranked chunks with document, chunk and position for citations',
          params: Id,
          body: z.strictObject({ query: z.string().trim().min(1).max(1_000), topK: z.number().int().min(1).max(50).default(5) }).meta({ examples: [{ query: 'refund policy for annual plans', topK: 5 }] }),
          response: { 200: z.object({ results: z.array(Hit) }) },
        },
      },
      async (request) => ({ results: await knowledge.search(await request.workspace('knowledge.read'), request.params.id, request.body.query, request.body.topK) }),
    );
  };
}
