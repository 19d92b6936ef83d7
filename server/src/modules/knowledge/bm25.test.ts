/**
 * BM25 ranking and the word statistics it reads: kept exact by triggers while documents are
 * ingested in parallel, deleted and re-ingested, and gone with their base.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { multipart } from '../../../test/uploads.js';
import { termFrequency } from './fulltext.js';

const chat = useChatApp({ RATE_LIMIT_SCALE: '1000' });

async function upload(client: ApiClient, baseId: string, filename: string, text: string): Promise<string> {
  const { payload, headers } = multipart(filename, text, 'text/markdown');
  const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
  expect(response.statusCode, response.body).toBe(202);
  return response.json().id;
}

async function allReady(client: ApiClient, baseId: string) {
  await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents.every((d: { status: string }) => d.status === 'ready'), { timeout: 20_000, interval: 100 }).toBe(true);
}

/** The statistics as kept, and as recomputed from the chunks now there. */
async function statistics(baseId: string) {
  const db = chat.t.database.db;
  const kept = await sql<{ lexeme: string; chunks: number; words: string }>`
    select lexeme, chunks, words::text as words from knowledge_term_stats where knowledge_base_id = ${baseId} and chunks > 0 order by lexeme`.execute(db);
  const recomputed = await sql<{ lexeme: string; chunks: number; words: string }>`
    select lexeme, sum(chunks)::integer as chunks, sum(words)::text as words from (
      select '' as lexeme, 1 as chunks, length(tsv) as words from chunks where knowledge_base_id = ${baseId}
      union all
      select u.lexeme, 1, coalesce(array_length(u.positions, 1), 1) from chunks c cross join lateral unnest(c.tsv) u where c.knowledge_base_id = ${baseId}
    ) t group by lexeme order by lexeme`.execute(db);
  return { kept: kept.rows, recomputed: recomputed.rows };
}

const words = ['harbour', 'lantern', 'ferry', 'timetable', 'anchor', 'tide', 'gull', 'pier', 'sail', 'rope'];
const documentText = (n: number) => `# Notes ${n}\n\n` + Array.from({ length: 40 }, (_, i) => `The ${words[(n + i) % words.length]} and the ${words[(n * 3 + i) % words.length]} number ${n}-${i % 7} are noted here.`).join(' ');

describe('BM25 word statistics', () => {
  it('stay exact while documents are ingested in parallel, deleted and changed', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Harbour' })).json().id;
    const ids = await Promise.all(Array.from({ length: 12 }, (_, n) => upload(client, baseId, `notes-${n}.md`, documentText(n))));
    await allReady(client, baseId);
    let { kept, recomputed } = await statistics(baseId);
    expect(kept.find((r) => r.lexeme === '')?.chunks).toBeGreaterThanOrEqual(12);
    expect(kept).toEqual(recomputed);

    // Deleted in parallel with a new upload, and a chunk changed in place.
    await Promise.all([...ids.slice(0, 4).map((id) => client.delete(`/knowledge-bases/${baseId}/documents/${id}`)), upload(client, baseId, 'late.md', documentText(99))]);
    await chat.t.database.db.updateTable('chunks').set({ text: 'A pelican guards the pier.' }).where('document_id', '=', ids[5]!).execute();
    await allReady(client, baseId);
    ({ kept, recomputed } = await statistics(baseId));
    expect(kept).toEqual(recomputed);
    expect(kept.find((r) => r.lexeme === 'pelican')?.chunks).toBeGreaterThan(0);

    expect((await client.delete(`/knowledge-bases/${baseId}`)).statusCode).toBe(200);
    expect((await statistics(baseId)).kept).toEqual([]);
  });
});

describe('BM25 ranking', () => {
  it("reads how often a word occurs in a chunk exactly, from 0 to tsvector's 255 positions", async () => {
    const counts = [0, 1, 2, 3, 4, 7, 10, 31, 64, 100, 199, 255];
    const rows = await sql<{ n: number; tf: number }>`
      select n, ${termFrequency(sql`to_tsvector('simple', repeat('harbour ', n) || 'gull')`, sql`to_tsquery('simple', 'harbour')`)}::integer as tf
      from unnest(${`{${counts.join(',')}}`}::int[]) as n order by n`.execute(chat.t.database.db);
    expect(rows.rows.map((r) => r.tf)).toEqual(counts);
  });

  it("keeps a chunk's row whole, so ranking reads its tsvector without TOAST or decompression", async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Wide' })).json().id;
    // 150 distinct words: a tsvector of about 2 kB, beside the text — a row PostgreSQL would compress by default.
    const word = (n: number) => 'harbour' + [...n.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('');
    const documentId = await upload(client, baseId, 'wide.md', `# Wide\n\n${Array.from({ length: 150 }, (_, n) => word(n)).join(' ')}.`);
    await allReady(client, baseId);
    const row = await sql<{ row: number; stored: number; plain: number }>`
      select pg_column_size(c.*) as row, pg_column_size(c.tsv) as stored, pg_column_size(c.tsv || ''::tsvector) as plain
      from chunks c where c.document_id = ${documentId} order by pg_column_size(c.*) desc limit 1`.execute(chat.t.database.db);
    expect(row.rows[0]!.row).toBeGreaterThan(2_032);
    expect(row.rows[0]!.stored).toBe(row.rows[0]!.plain);
  });

  it('weighs a rare word above a word in every document, and does not reward repeating a word', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Manual' })).json().id;
    const filler = Array.from({ length: 10 }, (_, n) => [`file-${n}.md`, `# Files ${n}\n\nEvery file is a file, and each file lists the file options of file number ${n}.`] as const);
    await Promise.all([
      ...filler.map(([name, text]) => upload(client, baseId, name, text)),
      upload(client, baseId, 'keep.md', '# Compression\n\nUse the keep option to retain the original after compressing.'),
      upload(client, baseId, 'spam.md', `# Compression\n\n${'Compressing compressing compressing. '.repeat(60)}`),
    ]);
    await allReady(client, baseId);
    const results = (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'how do I compress a file and retain the original file', topK: 3 })).json().results as { filename: string; score: number }[];
    expect(results[0]?.filename).toBe('keep.md');
    expect(results.map((r) => r.filename)).toContain('spam.md');
    expect(results[0]!.score).toBe(1);
  });
  it('reads "or" and quotes in a plain question as words when, taken literally, they match too little, and keeps `-word` out', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Deployment' })).json().id;
    await Promise.all([
      upload(client, baseId, 'proxy.md', '# Deployment\n\nRun the server behind a reverse proxy such as nginx, which buffers responses; exposing it directly is discouraged.'),
      upload(client, baseId, 'gzip.md', '# Gzip\n\nThe application can compress responses with gzip.'),
      upload(client, baseId, 'encoding.md', '# Encoding\n\nResponses may be encoded in several ways.'),
    ]);
    await allReady(client, baseId);
    const search = async (query: string) => ((await client.post(`/knowledge-bases/${baseId}/search`, { query, topK: 3 })).json().results as { filename: string }[]).map((r) => r.filename);
    // Literally: (should expose … internet) OR (put nginx front): no chunk has either group whole.
    expect((await search('should I expose my server directly to the internet or put nginx in front'))[0]).toBe('proxy.md');
    expect((await search('why does "gzip" make the server slower'))[0]).toBe('gzip.md');
    // (compress AND responses) OR (headers AND NOT nginx): the exact match first, then the rest ranked, never one with nginx.
    expect(await search('compress responses or headers -nginx')).toEqual(['gzip.md', 'encoding.md']);
  });
  it('reads a short -option in a question as the option, not as a word to exclude', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Tools' })).json().id;
    await Promise.all([upload(client, baseId, 'tar-options.md', '# tar options\n\n-xz: extract an archive compressed with gzip.'), upload(client, baseId, 'tar.md', '# tar\n\ntar stores many files in one archive.')]);
    await allReady(client, baseId);
    const results = (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'what does tar -xz do', topK: 3 })).json().results as { filename: string }[];
    expect(results[0]?.filename).toBe('tar-options.md');
  });
});
