/**
 * Attachments under the privacy controls: the data export lists them with their
 * conversation and original; erasure and retention delete them with the conversation.
 */
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { silentLogger } from '../../../test/harness.js';
import { multipart } from '../../../test/uploads.js';
import { ErasureService } from '../privacy/erasure.js';
import { buildExportArchive } from '../privacy/export-archive.js';
import { RetentionService } from '../privacy/retention.js';

const chat = useChatApp();
const DAY = 24 * 60 * 60 * 1000;

async function attached(client: ApiClient, conversationId: string, filename: string, text: string): Promise<string> {
  const { payload, headers } = multipart(filename, text, 'text/markdown');
  const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/attachments`, headers: client.headers(headers), payload });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json().id as string;
  await expect.poll(async () => (await client.get(`/conversations/${conversationId}/attachments`)).json().attachments[0]?.status, { timeout: 15_000 }).toBe('ready');
  return id;
}

/** What is left of the conversation's attachments in the database. */
async function remnants(conversationId: string, documentId: string) {
  const db = chat.t.database.db;
  return {
    bases: (await db.selectFrom('knowledge_bases').select('id').where('conversation_id', '=', conversationId).execute()).length,
    documents: (await db.selectFrom('documents').select('id').where('id', '=', documentId).execute()).length,
    blobs: (await db.selectFrom('document_blobs').select('document_id').where('document_id', '=', documentId).execute()).length,
    chunks: (await db.selectFrom('chunks').select('id').where('document_id', '=', documentId).execute()).length,
  };
}

describe('attachments and privacy', () => {
  it('the data export lists each attachment with its conversation, size and original', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const text = '# Orchard\n\nThe orchard key hangs behind the blue door.\n';
    const documentId = await attached(client, conversationId, 'orchard.md', text);
    const files = unzipSync(await buildExportArchive(chat.t.database.db, chat.t.encryptor, client.userId, chat.clock.now()));
    const knowledge = JSON.parse(strFromU8(files['knowledge.json']!));
    const base = knowledge.knowledgeBases.find((b: { conversationId: string | null }) => b.conversationId === conversationId);
    expect(base).toBeDefined();
    expect(knowledge.documents).toEqual(expect.arrayContaining([expect.objectContaining({ id: documentId, knowledgeBaseId: base.id, filename: 'orchard.md', sizeBytes: Buffer.byteLength(text) })]));
    expect(strFromU8(files[`uploads/${documentId}/orchard.md`]!)).toBe(text);
  });

  it('retention deletes an expired conversation with its attachments', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const documentId = await attached(client, conversationId, 'old.md', '# Old\n\nAn old note about ferries.\n');
    const fresh = await setUpChat(chat, { kind: 'extractive' });
    const freshDocument = await attached(fresh.client, fresh.conversationId, 'new.md', '# New\n\nA new note about ferries.\n');
    await chat.t.database.db
      .updateTable('conversations')
      .set({ updated_at: new Date(chat.clock.now().getTime() - 40 * DAY) })
      .where('id', '=', conversationId)
      .execute();
    await chat.t.database.db
      .updateTable('documents')
      .set({ created_at: new Date(chat.clock.now().getTime() - 40 * DAY) })
      .where('id', '=', documentId)
      .execute();
    // Uploads kept forever: the attachment still goes, with its conversation.
    await new RetentionService(chat.t.database.db, chat.clock, silentLogger, { conversations: 30, uploads: 0, securityEvents: 0, audit: 0, sessions: 0, exports: 0 }).run();
    expect(await remnants(conversationId, documentId)).toEqual({ bases: 0, documents: 0, blobs: 0, chunks: 0 });
    expect(await remnants(fresh.conversationId, freshDocument)).toEqual({ bases: 1, documents: 1, blobs: 1, chunks: 1 });
  });

  it('erasure deletes the person’s attachments and keeps everyone else’s', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const documentId = await attached(client, conversationId, 'mine.md', '# Mine\n\nA private note about kites.\n');
    const other = await setUpChat(chat, { kind: 'extractive' });
    const otherDocument = await attached(other.client, other.conversationId, 'theirs.md', '# Theirs\n\nAnother note about kites.\n');
    expect(await remnants(conversationId, documentId)).toEqual({ bases: 1, documents: 1, blobs: 1, chunks: 1 });
    await chat.t.database.db
      .updateTable('users')
      .set({ erasure_scheduled_at: new Date(chat.clock.now().getTime() - 1_000) })
      .where('id', '=', client.userId)
      .execute();
    const reports = await new ErasureService(chat.t.app.accounts.authDeps, { graceDays: 7 }).runDue();
    expect(reports.length).toBeGreaterThanOrEqual(1);
    expect(await remnants(conversationId, documentId)).toEqual({ bases: 0, documents: 0, blobs: 0, chunks: 0 });
    expect(await remnants(other.conversationId, otherDocument)).toEqual({ bases: 1, documents: 1, blobs: 1, chunks: 1 });
  });
});
