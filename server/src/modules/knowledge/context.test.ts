/**
 * Passages as answers read them: a hit with its neighbouring chunks, the overlap between
 * chunks said once, touching hits merged into one passage, other workspaces' chunks never.
 */
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { multipart } from '../../../test/uploads.js';
import { joinOverlapping, withNeighbours } from './context.js';
import type { SearchHit } from './retrieval.js';

const chat = useChatApp({ RATE_LIMIT_SCALE: '1000' });

async function upload(client: ApiClient, baseId: string, filename: string, text: string): Promise<string> {
  const { payload, headers } = multipart(filename, text, 'text/markdown');
  const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
  expect(response.statusCode, response.body).toBe(202);
  const id: string = response.json().id;
  await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents/${id}`)).json().status, { timeout: 20_000, interval: 100 }).toBe('ready');
  return id;
}

/** Eight sections, each one chunk: "Stop N" says what is at stop N. */
const ROUTE = Array.from({ length: 8 }, (_, n) => `## Stop ${n}\n\n${`At stop ${n} the tram waits beside the ${['bakery', 'harbour', 'library', 'market', 'museum', 'park', 'station', 'theatre'][n]}. `.repeat(18)}End of stop ${n}.`).join(
  '\n\n',
);

async function chunksOf(documentId: string) {
  return chat.t.database.db
    .selectFrom('chunks')
    .innerJoin('documents', 'documents.id', 'chunks.document_id')
    .select(['chunks.id', 'chunks.position', 'chunks.heading', 'chunks.text', 'chunks.workspace_id', 'chunks.knowledge_base_id', 'documents.filename'])
    .where('document_id', '=', documentId)
    .orderBy('position')
    .execute();
}

function hitOf(documentId: string, chunk: Awaited<ReturnType<typeof chunksOf>>[number], score = 1): SearchHit {
  return { documentId, knowledgeBaseId: chunk.knowledge_base_id, chunkId: chunk.id, filename: chunk.filename, title: null, position: chunk.position, heading: chunk.heading, text: chunk.text, score };
}

describe('passages with their neighbours', () => {
  it('joins overlapping chunks once, and separate ones with a blank line', () => {
    expect(joinOverlapping('The quick brown fox jumps over the lazy dog', 'fox jumps over the lazy dog and runs away')).toBe('The quick brown fox jumps over the lazy dog and runs away');
    expect(joinOverlapping('First paragraph ends here.', 'Second paragraph starts here.')).toBe('First paragraph ends here.\n\nSecond paragraph starts here.');
  });

  it('gives a hit the chunks on either side, says their headings, and merges hits that touch', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Tram' })).json().id;
    const documentId = await upload(client, baseId, 'route.md', ROUTE);
    const chunks = await chunksOf(documentId);
    expect(chunks.length).toBeGreaterThanOrEqual(6);
    const workspaceId = chunks[0]!.workspace_id;
    const at = (position: number) => chunks.find((c) => c.position === position)!;

    const [middle] = await withNeighbours(chat.t.database.db, workspaceId, [hitOf(documentId, at(3))]);
    expect(middle).toMatchObject({ position: 3, from: 2, to: 4, heading: at(3).heading });
    expect(middle!.text).toContain(at(3).text);
    for (const position of [2, 4]) expect(middle!.text, `neighbour ${position}`).toContain(at(position).text.slice(-200));
    expect(middle!.text).toContain(`${at(4).heading}\n`); // a neighbour under another heading says so
    expect(middle!.text).not.toContain(at(5).text.slice(-200));

    // The first chunk has no chunk before it. Hit 3 is inside hit 4's passage already: not sent again.
    const [first, second, ...rest] = await withNeighbours(chat.t.database.db, workspaceId, [hitOf(documentId, at(0), 3), hitOf(documentId, at(4), 2), hitOf(documentId, at(3), 1)]);
    expect(first).toMatchObject({ position: 0, from: 0, to: 1, score: 3 });
    expect(second).toMatchObject({ position: 4, from: 3, to: 5, score: 2 });
    expect(rest).toEqual([]);
    // Hits 2 and 4 overlap by their neighbours: one passage, ranked where hit 2 was.
    const merged = await withNeighbours(chat.t.database.db, workspaceId, [hitOf(documentId, at(2), 2), hitOf(documentId, at(4), 1)]);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ position: 2, from: 1, to: 5, score: 2 });
    // Nothing said twice: each chunk's own words appear once.
    const once = (text: string, needle: string) => text.split(needle).length - 1;
    for (const n of [1, 2, 3, 4, 5]) expect(once(merged[0]!.text, `End of stop ${n}.`), `stop ${n}`).toBe(1);
  });

  it('never takes neighbours from another workspace', async () => {
    const owner = await apiUser(chat.t);
    const baseId = (await owner.post('/knowledge-bases', { name: 'Private tram' })).json().id;
    const documentId = await upload(owner, baseId, 'route.md', ROUTE);
    const chunks = await chunksOf(documentId);
    const stranger = await apiUser(chat.t);
    const strangerWorkspace = (await stranger.get('/workspaces')).json().workspaces[0].id;
    const [passage] = await withNeighbours(chat.t.database.db, strangerWorkspace, [hitOf(documentId, chunks[3]!)]);
    expect(passage!.text).toBe(chunks[3]!.text); // the hit as given, nothing of the owner's around it
  });
});
