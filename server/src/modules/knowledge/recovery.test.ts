/**
 * The database, not the queue, is the source of truth: documents left unfinished by a
 * stop (no worker ran, or one died mid-job) are enqueued again when a server starts, and
 * end `ready` exactly once however many times recovery runs.
 */
import { describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { buildTestApp } from '../../../test/harness.js';
import { multipart } from '../../../test/uploads.js';

// This API copy ingests nothing itself, like an API whose workers are down.
const chat = useChatApp({ INGEST_IN_PROCESS: 'false' });

describe('ingestion recovery', () => {
  it('finishes unfinished documents at start, exactly once', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Recovered' })).json().id;
    const ids: string[] = [];
    const documents: [string, string][] = [
      ['one.md', '# One\n\nOtters hold hands while sleeping.'],
      ['two.md', '# Two\n\nHoney never spoils when sealed.'],
    ];
    for (const [name, text] of documents) {
      const { payload, headers } = multipart(name, text, 'text/markdown');
      const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
      expect(response.statusCode, response.body).toBe(202);
      ids.push(response.json().id);
    }
    // A worker that died mid-job leaves the document in `processing` (chunks are written in
    // one transaction with the `ready` status, so there is nothing half-written to undo).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const db = chat.t.database.db;
    expect((await db.selectFrom('documents').select('status').where('id', 'in', ids).execute()).map((d) => d.status)).toEqual(['processing', 'processing']);

    // Two servers start (two API copies, or a restart twice): both recover, each document is ingested once.
    const first = await buildTestApp({ database: chat.t.database, store: chat.t.store, recoverIngestion: true, env: { REQUIRE_MFA: 'none' } });
    const second = await buildTestApp({ database: chat.t.database, store: chat.t.store, recoverIngestion: true, env: { REQUIRE_MFA: 'none' } });
    try {
      await expect.poll(async () => (await db.selectFrom('documents').select('status').where('id', 'in', ids).execute()).every((d) => d.status === 'ready'), { timeout: 15_000, interval: 100 }).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300)); // let any second run finish
      for (const id of ids) {
        const document = await db.selectFrom('documents').select(['chunk_count', 'status']).where('id', '=', id).executeTakeFirstOrThrow();
        const chunks = await db.selectFrom('chunks').select('position').where('document_id', '=', id).execute();
        expect(chunks.length).toBe(document.chunk_count);
        expect(new Set(chunks.map((c) => c.position)).size).toBe(chunks.length);
      }
      const hits = (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'otters sleeping' })).json().results;
      expect(hits).toHaveLength(1);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
