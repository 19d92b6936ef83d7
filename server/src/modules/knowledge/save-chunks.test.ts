/**
 * Saving a document's chunks: on the embedded database (one session) batch by batch, so other
 * requests' statements run in between, and never a half-indexed document for readers or a
 * duplicated one when two runs interleave.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { TEST_DATABASE_URL } from '../../../test/harness.js';
import { multipart } from '../../../test/uploads.js';
import * as repo from './repo.js';

const chat = useChatApp({ RATE_LIMIT_SCALE: '1000' });
const CHUNKS = 800;
const chunks = Array.from({ length: CHUNKS }, (_, position) => ({
  position,
  heading: null,
  text: `Section ${position}: the lighthouse keeper logs the tide at ${position % 24} o'clock.`,
  start_char: position * 80,
  end_char: position * 80 + 79,
}));

/** A ready document of a fresh base, put back in `processing` as a run of the pipeline finds it. */
async function processingDocument(client: ApiClient): Promise<repo.DocumentRow> {
  const baseId = (await client.post('/knowledge-bases', { name: 'Lighthouse' })).json().id;
  const { payload, headers } = multipart('log.md', '# Log\n\nThe keeper writes.', 'text/markdown');
  const id = (await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload })).json().id as string;
  await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents/${id}`)).json().status, { timeout: 20_000, interval: 100 }).toBe('ready');
  await chat.t.database.db.updateTable('documents').set({ status: 'processing' }).where('id', '=', id).execute();
  return (await chat.t.database.db.selectFrom('documents').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as repo.DocumentRow;
}

/** Chunks of the document that a reader can see (its document is ready). */
async function visible(documentId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from chunks c join documents d on d.id = c.document_id where d.status = 'ready' and c.document_id = ${documentId}`.execute(chat.t.database.db);
  return Number(rows[0]!.n);
}

/** Runs `save`, reading what readers see until it is done: how many reads finished before it, and every count seen. */
async function readDuring(documentId: string, save: Promise<unknown>): Promise<{ readsBefore: number; seen: Set<number> }> {
  let done = false;
  const finished = save.finally(() => (done = true));
  let readsBefore = 0;
  const seen = new Set<number>();
  while (!done) {
    seen.add(await visible(documentId));
    if (!done) readsBefore++;
  }
  await finished;
  return { readsBefore, seen };
}

describe('saving chunks on a database with one session', () => {
  it('lets other statements run between batches, and readers see none or all of the document', async () => {
    const client = await apiUser(chat.t);
    const document = await processingDocument(client);
    const { readsBefore, seen } = await readDuring(document.id, repo.saveChunks(chat.t.database.db, document, chunks, 'Log', new Date(), randomUUID, undefined, true));
    expect(readsBefore).toBeGreaterThanOrEqual(3);
    for (const count of seen) expect([0, CHUNKS]).toContain(count);
    expect(await visible(document.id)).toBe(CHUNKS);
  });

  it('in one transaction instead, PostgreSQL answers others from its other sessions, the embedded database nobody until the end', async () => {
    const client = await apiUser(chat.t);
    const document = await processingDocument(client);
    const { readsBefore } = await readDuring(document.id, repo.saveChunks(chat.t.database.db, document, chunks, 'Log', new Date(), randomUUID, undefined, false));
    if (TEST_DATABASE_URL) expect(readsBefore).toBeGreaterThanOrEqual(3);
    else expect(readsBefore).toBeLessThanOrEqual(1);
  });

  it('two runs of the same document at once leave it whole or retried, never duplicated', async () => {
    const client = await apiUser(chat.t);
    const document = await processingDocument(client);
    const runs = await Promise.allSettled([0, 1].map(() => repo.saveChunks(chat.t.database.db, document, chunks, 'Log', new Date(), randomUUID, undefined, true)));
    const row = await chat.t.database.db.selectFrom('documents').select('status').where('id', '=', document.id).executeTakeFirstOrThrow();
    const { rows } = await sql<{ n: string; positions: string }>`select count(*) as n, count(distinct position) as positions from chunks where document_id = ${document.id}`.execute(chat.t.database.db);
    if (row.status === 'ready') {
      expect(runs.some((r) => r.status === 'fulfilled' && r.value === true)).toBe(true);
      expect(rows[0]).toEqual({ n: String(CHUNKS), positions: String(CHUNKS) });
    } else {
      // Both noticed the other: the chunks are gone and the job's retry starts over.
      expect(row.status).toBe('processing');
      expect(runs.every((r) => r.status === 'rejected')).toBe(true);
      expect(Number(rows[0]!.n)).toBe(0);
    }
  });
});
