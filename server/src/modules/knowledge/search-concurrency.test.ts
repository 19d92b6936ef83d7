/**
 * Knowledge searches of one process go through its bulkhead (SEARCH_CONCURRENCY): fired all
 * at once, no more than the limit rank at the same time, the rest wait, and every one of them
 * gets the same answer it gets alone.
 */
import { describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { multipart } from '../../../test/uploads.js';
import { Bulkhead } from '../../platform/bulkhead.js';
import type { JsonCache } from '../../platform/store/cache.js';
import { KnowledgeRetrieval } from './retrieval.js';

const chat = useChatApp({ RATE_LIMIT_SCALE: '1000' });
const noCache = { getOrLoad: (_key: string, load: () => Promise<unknown>) => load() } as unknown as JsonCache<never>;
const PLACES = ['bakery', 'harbour', 'library', 'market', 'museum', 'park', 'station', 'theatre'];
const GUIDE = PLACES.map((place, n) => `## Stop ${n}\n\n${`At stop ${n} the tram waits beside the ${place}. `.repeat(18)}`).join('\n\n');

describe('knowledge search concurrency', () => {
  it('ranks at most SEARCH_CONCURRENCY searches at once; the others wait and get the same results', async () => {
    const client = await apiUser(chat.t);
    const baseId: string = (await client.post('/knowledge-bases', { name: 'Tram' })).json().id;
    const { payload, headers } = multipart('tram.md', GUIDE, 'text/markdown');
    const uploaded = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
    expect(uploaded.statusCode, uploaded.body).toBe(202);
    await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents/${uploaded.json().id}`)).json().status, { timeout: 20_000, interval: 100 }).toBe('ready');
    const workspaceId = (await chat.t.database.db.selectFrom('knowledge_bases').select('workspace_id').where('id', '=', baseId).executeTakeFirstOrThrow()).workspace_id;

    // The bulkhead as the process has it, watched from inside each search it lets run.
    let mostActive = 0;
    let mostQueued = 0;
    class Watched extends Bulkhead {
      override run<T>(task: () => Promise<T>): Promise<T> {
        return super.run(() => {
          mostActive = Math.max(mostActive, this.active);
          mostQueued = Math.max(mostQueued, this.queued);
          return task();
        });
      }
    }
    const retrieval = new KnowledgeRetrieval(chat.t.database.db, noCache, null, null, null, undefined, new Watched(2));
    const questions = PLACES.map((place) => `where does the tram wait beside the ${place}`);
    const alone = [];
    for (const question of questions) alone.push(await retrieval.hits(workspaceId, [baseId], question, 3));

    expect([mostActive, mostQueued]).toEqual([1, 0]);
    const together = await Promise.all(questions.map((question) => retrieval.hits(workspaceId, [baseId], question, 3)));
    expect(together).toEqual(alone);
    expect(alone.every((hits, n) => hits[0]?.text.includes(PLACES[n]!))).toBe(true);
    expect(mostActive).toBe(2);
    expect(mostQueued).toBeGreaterThan(0);
    expect(retrieval.searchLoad).toEqual({ active: 0, queued: 0 });
  });
});
