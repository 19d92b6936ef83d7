/**
 * Reranking a search's best results through the base's provider connection, against the fake
 * provider over HTTP: its rerank endpoint, the model's judgement where a server has none, the
 * tokens counted against the workspace budget, and every failure leaving the search's order.
 */
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { PROVIDER_KEY, useChatApp } from '../../../test/chat-fixture.js';
import { fakeEmbedding } from '../../../test/fake-llm.js';
import { multipart } from '../../../test/uploads.js';
import { rerankScores } from '../../platform/llm/openai.js';
import { JUDGEMENT_MAX_TOKENS, JUDGEMENT_SYSTEM_PROMPT, judgementScores, RERANK_CANDIDATES, RERANK_PASSAGE_CHARS, Reranker } from './reranking.js';

const chat = useChatApp();

/**
 * Five short notes that all say "parking": full-text search ranks them by how often they do;
 * the fake reranker by shared meaning with the whole question (car = vehicle = automobile).
 */
const DOCS: Record<string, string> = {
  'garage.md': '# Garage\n\nParking parking parking: the garage parking levels, parking fees and parking hours.',
  'visitors.md': '# Visitors\n\nVisitor parking is next to the parking entrance; parking badges at reception.',
  'fleet.md': '# Fleet\n\nParking for the company vehicle pool: every automobile is serviced in spring by the fleet team.',
  'bikes.md': '# Bikes\n\nBicycle parking is in the courtyard.',
  'night.md': '# Night\n\nParking overnight needs a permit from facilities.',
};
const QUERY = 'parking: when is the car serviced';

async function connection(client: ApiClient, kind: 'openai' | 'anthropic' = 'openai'): Promise<string> {
  const response = await client.post('/provider-connections', { name: `rerank ${kind}`, kind, baseUrl: kind === 'openai' ? `${chat.fake.url}/v1` : chat.fake.url, apiKey: PROVIDER_KEY });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function filledBase(client: ApiClient, rerank?: { connectionId: string; model: string }): Promise<string> {
  const created = await client.post('/knowledge-bases', { name: 'Facilities', ...(rerank ? { rerank } : {}) });
  expect(created.statusCode, created.body).toBe(201);
  const baseId: string = created.json().id;
  for (const [name, text] of Object.entries(DOCS)) {
    const { payload, headers } = multipart(name, text, 'text/markdown');
    const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
    expect(response.statusCode, response.body).toBe(202);
  }
  await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents.filter((d: { status: string }) => d.status === 'ready').length, { timeout: 15_000, interval: 100 }).toBe(Object.keys(DOCS).length);
  return baseId;
}

type Hit = { filename: string; score: number; text: string; heading: string | null };
async function search(client: ApiClient, baseId: string, query = QUERY, topK = 5): Promise<Hit[]> {
  const response = await client.post(`/knowledge-bases/${baseId}/search`, { query, topK });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().results;
}

const cosine = (a: string, b: string) => fakeEmbedding(a).reduce((sum, x, i) => sum + x * fakeEmbedding(b)[i]!, 0);
const rerankCalls = () => chat.fake.requests.filter((r) => r.path === '/v1/rerank');
const chatCalls = () => chat.fake.requests.filter((r) => r.path === '/v1/chat/completions');
async function usage(client: ApiClient): Promise<number> {
  const workspaceId = (await chat.t.database.db.selectFrom('knowledge_bases').select('workspace_id').where('created_by', '=', client.userId).executeTakeFirstOrThrow()).workspace_id;
  const body = (await client.get(`/workspaces/${workspaceId}/usage`)).json();
  return body.inputTokens + body.outputTokens;
}

describe('reranking search results', () => {
  it("reorders the best candidates by the provider's rerank endpoint and counts its tokens", async () => {
    const client = await apiUser(chat.t);
    const plain = await filledBase(client);
    const fullText = (await search(client, plain)).map((h) => h.filename);
    expect(fullText).toHaveLength(5);

    const connectionId = await connection(client);
    const updated = await client.patch(`/knowledge-bases/${plain}`, { rerank: { connectionId, model: 'fake-reranker' } });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json().rerank).toEqual({ connectionId, model: 'fake-reranker' });
    const before = await usage(client);
    const hits = await search(client, plain);

    // The order is the reranker's: each hit's text against the question, best first.
    const expected = [...hits].sort((a, b) => cosine(QUERY, `${b.heading}\n${b.text}`) - cosine(QUERY, `${a.heading}\n${a.text}`)).map((h) => h.filename);
    expect(hits.map((h) => h.filename)).toEqual(expected);
    expect(hits[0]!.filename).toBe('fleet.md');
    expect(hits.map((h) => h.filename)).not.toEqual(fullText); // the step changed something
    expect(hits[0]!.score).toBe(1);

    const [call, ...more] = rerankCalls();
    expect(more).toEqual([]);
    expect(call!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(call!.body).toMatchObject({ model: 'fake-reranker', query: QUERY });
    expect(call!.body.documents).toHaveLength(5);
    expect(chatCalls()).toEqual([]);
    // Its tokens (the fake bills every word it read) count against the workspace's budget.
    expect((await usage(client)) - before).toBeGreaterThan(20);

    // Cached like any search: asking again makes no call.
    await search(client, plain);
    expect(rerankCalls()).toHaveLength(1);
  });

  it('asks the model to judge the candidates when the server has no rerank endpoint, and remembers that it has none', async () => {
    const client = await apiUser(chat.t);
    const connectionId = await connection(client);
    const baseId = await filledBase(client, { connectionId, model: 'fake-model-1' });
    chat.fake.rerankEndpoint = false;
    // The candidates reach the model in full-text order; it puts the last one first.
    chat.fake.enqueue({ kind: 'text', text: 'Here you go: {"scores": [1, 2, 3, 4, 9]}' });
    const before = await usage(client);
    const hits = await search(client, baseId);

    expect(rerankCalls()).toHaveLength(1); // asked once, answered 404
    const [judgement, ...more] = chatCalls();
    expect(more).toEqual([]);
    expect(judgement!.body).toMatchObject({ model: 'fake-model-1', temperature: 0, max_tokens: JUDGEMENT_MAX_TOKENS });
    expect(judgement!.body.messages[0]).toEqual({ role: 'system', content: JUDGEMENT_SYSTEM_PROMPT });
    const prompt: string = judgement!.body.messages[1].content;
    expect(prompt).toContain(`Question: ${QUERY}`);
    const sent = [...prompt.matchAll(/^\[(\d)\] (\w+)/gm)].map((m) => m[2]!.toLowerCase());
    expect(sent).toHaveLength(5);
    expect(hits.map((h) => h.filename.replace('.md', ''))).toEqual([sent[4], sent[3], sent[2], sent[1], sent[0]]);
    expect(hits.map((h) => h.score)).toEqual([1, 0.4444, 0.3333, 0.2222, 0.1111]);
    expect((await usage(client)) - before).toBeGreaterThan(0);

    // Another question: straight to the judgement, the endpoint is not probed again.
    chat.fake.enqueue({ kind: 'text', text: '{"scores": [5, 4]}' });
    await search(client, baseId, 'bicycle parking courtyard', 2);
    expect(rerankCalls()).toHaveLength(1);
    expect(chatCalls()).toHaveLength(2);
  });

  it('keeps the search order, answers, and tries again next time when reranking fails', async () => {
    const client = await apiUser(chat.t);
    const plain = await filledBase(client);
    const fullText = await search(client, plain);
    const connectionId = await connection(client);
    const baseId = await filledBase(client, { connectionId, model: 'fake-model-1' });
    chat.fake.rerankEndpoint = false;

    // A provider error, then a model that ignores the format: the full-text order both times.
    chat.fake.enqueue({ kind: 'error', status: 400 });
    expect((await search(client, baseId)).map((h) => h.filename)).toEqual(fullText.map((h) => h.filename));
    chat.fake.enqueue({ kind: 'text', text: 'The fleet note looks most relevant to me.' });
    expect((await search(client, baseId)).map((h) => h.filename)).toEqual(fullText.map((h) => h.filename));
    expect(chatCalls()).toHaveLength(2); // the failed results were not cached

    // A spent budget: no provider call at all, the search still answers.
    const workspaceId = (await chat.t.database.db.selectFrom('knowledge_bases').select('workspace_id').where('id', '=', baseId).executeTakeFirstOrThrow()).workspace_id;
    await chat.t.database.db.updateTable('workspaces').set({ monthly_token_budget: '1' }).where('id', '=', workspaceId).execute();
    await chat.t.database.db
      .insertInto('workspace_usage')
      .values({ workspace_id: workspaceId, period: `${new Date().toISOString().slice(0, 7)}-01`, input_tokens: '5', output_tokens: '0' })
      .onConflict((oc) => oc.columns(['workspace_id', 'period']).doUpdateSet({ input_tokens: '5' }))
      .execute();
    const calls = chat.fake.requests.length;
    expect((await search(client, baseId, 'overnight permit')).map((h) => h.filename)[0]).toBe('night.md');
    expect(chat.fake.requests.length).toBe(calls);
  });

  it(`sends at most ${RERANK_CANDIDATES} candidates, each cut to ${RERANK_PASSAGE_CHARS} characters, and returns topK`, async () => {
    const client = await apiUser(chat.t);
    const connectionId = await connection(client);
    const created = await client.post('/knowledge-bases', { name: 'Many', rerank: { connectionId, model: 'fake-reranker' } });
    const baseId: string = created.json().id;
    const filler = Array.from({ length: 220 }, (_, i) => `word${i}`).join(' ');
    for (let n = 0; n < RERANK_CANDIDATES + 5; n++) {
      const { payload, headers } = multipart(`note-${n}.txt`, `Parking note ${n}. ${filler}`, 'text/plain');
      expect((await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload })).statusCode).toBe(202);
    }
    await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents.filter((d: { status: string }) => d.status === 'ready').length, { timeout: 30_000, interval: 200 }).toBe(RERANK_CANDIDATES + 5);
    expect(await search(client, baseId, 'parking note', 3)).toHaveLength(3);
    const documents: string[] = rerankCalls()[0]!.body.documents;
    expect(documents).toHaveLength(RERANK_CANDIDATES);
    expect(Math.max(...documents.map((d) => d.length))).toBe(RERANK_PASSAGE_CHARS);
  });

  it('refuses a rerank setting it cannot honour, with the reason, and turns it off with null', async () => {
    const client = await apiUser(chat.t);
    const other = await apiUser(chat.t);
    const foreign = await connection(other);
    const response = await client.post('/knowledge-bases', { name: 'Bad', rerank: { connectionId: foreign, model: 'x' } });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'validation_failed', details: [{ path: 'rerank.connectionId', message: 'not_found' }] });
    const own = await connection(client, 'anthropic');
    for (const rerank of [{ connectionId: 'not-a-uuid', model: 'x' }, { connectionId: own }, { connectionId: own, model: '' }, { connectionId: own, model: 'x', topN: 5 }, 'fake-reranker']) {
      expect((await client.post('/knowledge-bases', { name: 'Bad', rerank })).statusCode).toBe(400);
    }
    expect((await client.get('/knowledge-bases')).json().knowledgeBases).toEqual([]);

    const created = await client.post('/knowledge-bases', { name: 'Judged', rerank: { connectionId: own, model: 'claude-x' } });
    expect(created.json().rerank).toEqual({ connectionId: own, model: 'claude-x' });
    expect((await client.patch(`/knowledge-bases/${created.json().id}`, { rerank: null })).json().rerank).toBeNull();
    // Deleting the connection turns reranking off.
    const again = await client.patch(`/knowledge-bases/${created.json().id}`, { rerank: { connectionId: own, model: 'claude-x' } });
    expect(again.json().rerank).not.toBeNull();
    expect((await client.delete(`/provider-connections/${own}`)).statusCode).toBe(200);
    expect((await client.get(`/knowledge-bases/${created.json().id}`)).json().rerank).toBeNull();
  });
});

describe('the reranking deadline', () => {
  it('gives up on a provider that does not answer in time', async () => {
    const client = await apiUser(chat.t);
    const connectionId = await connection(client);
    const workspaceId = (await chat.t.database.db.selectFrom('provider_connections').select('workspace_id').where('id', '=', connectionId).executeTakeFirstOrThrow()).workspace_id;
    const reranker = new Reranker(chat.t.app.providers.resolver, { timeoutMs: 300 });
    chat.fake.enqueue({ kind: 'hang' });
    const started = performance.now();
    await expect(reranker.rerank({ workspaceId, connectionId, model: 'fake-reranker' }, 'question', ['a', 'b'])).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('reading what a reranker answered', () => {
  it('takes rerank endpoint results in any order and refuses incomplete or non-numeric ones', () => {
    expect(
      rerankScores(
        {
          results: [
            { index: 1, relevance_score: 0.9 },
            { index: 0, relevance_score: 0.1 },
          ],
          usage: { total_tokens: 42 },
        },
        2,
      ),
    ).toEqual({ scores: [0.1, 0.9], inputTokens: 42 });
    expect(rerankScores({ results: [{ index: 0, relevance_score: -3.2 }], meta: { billed_units: { search_units: 1 } } }, 1)).toEqual({ scores: [-3.2], inputTokens: 0 });
    for (const body of [
      {},
      { results: [{ index: 0, relevance_score: 0.5 }] },
      {
        results: [
          { index: 2, relevance_score: 1 },
          { index: 0, relevance_score: 1 },
        ],
      },
      {
        results: [
          { index: 0, relevance_score: 'high' },
          { index: 1, relevance_score: 1 },
        ],
      },
      {
        results: [
          { index: 0.5, relevance_score: 1 },
          { index: 1, relevance_score: 1 },
        ],
      },
    ]) {
      expect(() => rerankScores(body, 2), JSON.stringify(body)).toThrow(/unusable rerank response/);
    }
  });

  it("takes the judgement's scores from JSON in prose, clamped, and refuses anything else", () => {
    expect(judgementScores('```json\n{"scores": [0, 10, 7]}\n```', 3)).toEqual([0, 10, 7]);
    expect(judgementScores('[3, 12, -1]', 3)).toEqual([3, 10, 0]);
    for (const answer of ['', 'I think the second.', '{"scores": [1, 2]}', '{"scores": [1, "2", 3]}', '{"scores": [1, 2, NaN]}']) {
      expect(() => judgementScores(answer, 3), answer).toThrow(/did not answer the relevance judgement/);
    }
  });
});
