/** Chat end to end against a fake provider over real HTTP: streaming, tools, limits, caching, budgets, storage. */
import http from 'node:http';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { NO_ANSWER } from '../../platform/llm/extractive.js';
import { markAbandoned } from './repo.js';
import { ApiClient, apiUser } from '../../../test/api-client.js';
import { buildTestApp } from '../../../test/harness.js';
import { parseEvents, PROVIDER_KEY, setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { DEFAULT_TEXT, tokens } from '../../../test/fake-llm.js';

const chat = useChatApp();
const chatRequests = () => chat.fake.requests.filter((r) => r.method === 'POST');

describe('chat', () => {
  it('streams an answer over Server-Sent Events and stores both messages (OpenAI protocol)', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: 'Paris is the capital of France.' });
    const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'What is the capital of France?' }, { accept: 'text/event-stream' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    const events = parseEvents(response.body);
    expect(events[0]!.event).toBe('message');
    expect(events[0]!.data.message).toMatchObject({ role: 'user', text: 'What is the capital of France?', status: 'complete' });
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.map((e) => e.data.text).join('')).toBe('Paris is the capital of France.');
    expect(events.some((e) => e.event === 'usage')).toBe(true);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data.message).toMatchObject({ role: 'assistant', text: 'Paris is the capital of France.', status: 'complete', agentVersion: 1, model: 'fake-model-1' });
    expect(done.data.message.usage.outputTokens).toBeGreaterThan(0);

    const request = chatRequests()[0]!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(request.body.stream).toBe(true);
    expect(request.body.messages.at(-1)).toEqual({ role: 'user', content: 'What is the capital of France?' });

    const stored = (await client.get(`/conversations/${conversationId}/messages`)).json().messages;
    expect(stored.map((m: { role: string; status: string }) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    const conversation = (await client.get(`/conversations/${conversationId}`)).json();
    expect(conversation.title).toBe('What is the capital of France?');

    const rows = await sql<{ row: string }>`select t::text as row from messages t`.execute(chat.t.database.db);
    expect(rows.rows.map((r) => r.row).join()).not.toContain('capital');
  });

  it("stores the answer and moves its conversation to the agent's current version in the same write", async () => {
    const { client, agentId, conversationId } = await setUpChat(chat);
    expect((await client.patch(`/agents/${agentId}`, { systemPrompt: 'Answer in one sentence.' })).json().version).toBe(2);
    const before = (await client.get(`/conversations/${conversationId}`)).json();
    expect(before.agentVersion).toBe(1);
    chat.fake.enqueue({ kind: 'text', text: 'Version two speaking.' });
    const answer = (await client.post(`/conversations/${conversationId}/messages`, { content: 'Who is this?' })).json().answer;
    expect(answer).toMatchObject({ text: 'Version two speaking.', status: 'complete', agentVersion: 2 });
    const after = (await client.get(`/conversations/${conversationId}`)).json();
    expect(after.agentVersion).toBe(2);
    expect(Date.parse(after.updatedAt)).toBeGreaterThanOrEqual(Date.parse(answer.createdAt));
    const stored = (await client.get(`/conversations/${conversationId}/messages`)).json().messages.at(-1);
    expect(stored).toMatchObject({ text: 'Version two speaking.', status: 'complete', stopReason: answer.stopReason, usage: answer.usage });
    expect(answer.usage.outputTokens).toBeGreaterThan(0);
  });

  it('answers as JSON without an event stream, through the Anthropic protocol, with history', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'anthropic', agent: { systemPrompt: 'Be brief.' } });
    chat.fake.enqueue({ kind: 'text', text: 'First answer.' }, { kind: 'text', text: 'Second answer.' });
    const first = await client.post(`/conversations/${conversationId}/messages`, { content: 'One?' });
    expect(first.statusCode).toBe(201);
    expect(first.json().answer).toMatchObject({ text: 'First answer.', status: 'complete' });
    const second = await client.post(`/conversations/${conversationId}/messages`, { content: 'Two?' });
    expect(second.json().answer.text).toBe('Second answer.');
    const request = chatRequests()[1]!;
    expect(request.path).toBe('/v1/messages');
    expect(request.headers['x-api-key']).toBe(PROVIDER_KEY);
    expect(request.body.system).toContain('Be brief.');
    expect(request.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('runs the tool loop: the model calls the calculator and answers with its result', async () => {
    const { client, conversationId } = await setUpChat(chat, { agent: { tools: ['calculator'] } });
    chat.fake.enqueue({ kind: 'tool_call', name: 'calculator', arguments: { expression: '6 * 7' } }, { kind: 'text', text: 'It is 42.' });
    const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'What is six times seven?' }, { accept: 'text/event-stream' });
    const events = parseEvents(response.body);
    expect(events.find((e) => e.event === 'tool_call')!.data).toMatchObject({ name: 'calculator' });
    expect(events.find((e) => e.event === 'tool_result')!.data).toMatchObject({ name: 'calculator', ok: true });
    const answer = events.at(-1)!.data.message;
    expect(answer).toMatchObject({ text: 'It is 42.', status: 'complete', toolCalls: [{ name: 'calculator', ok: true }] });
    const second = chatRequests()[1]!.body;
    expect(second.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(['calculator']);
    const toolMessage = second.messages.find((m: { role: string }) => m.role === 'tool');
    expect(toolMessage.content).toMatch(/<untrusted-data boundary="[0-9a-f]{18}" source="tool calculator">\n42\n<\/untrusted-data/);
  });

  it('stops at the step limit and keeps what was said', async () => {
    const { client, conversationId } = await setUpChat(chat, { agent: { tools: ['calculator'], limits: { maxSteps: 2 } } });
    for (let i = 0; i < 3; i++) chat.fake.enqueue({ kind: 'tool_call', name: 'calculator', arguments: { expression: `${i} + 1` } });
    const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'Loop forever' });
    expect(response.json().answer).toMatchObject({ status: 'incomplete', stopReason: 'max_steps' });
    expect(chatRequests()).toHaveLength(2);
  });

  it('retries a 429 and a 503 with backoff, then answers', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'error', status: 429, retryAfter: '0' }, { kind: 'error', status: 503 }, { kind: 'text', text: 'Made it.' });
    const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'Hello?' });
    expect(response.json().answer).toMatchObject({ text: 'Made it.', status: 'complete' });
    expect(chatRequests()).toHaveLength(3);
  });

  it('reports a failing provider without losing the question, and opens the circuit after repeated failures', async () => {
    const { client, conversationId } = await setUpChat(chat);
    for (let i = 0; i < 3 * 5; i++) chat.fake.enqueue({ kind: 'error', status: 500 });
    for (let attempt = 1; attempt <= 5; attempt++) {
      const response = await client.post(`/conversations/${conversationId}/messages`, { content: `Attempt ${attempt}` });
      expect(response.statusCode).toBe(201);
      expect(response.json().answer).toMatchObject({ status: 'failed', stopReason: 'provider_unavailable' });
      expect(response.json().error.code).toBe('provider_unavailable');
      expect(response.body).not.toContain(PROVIDER_KEY);
    }
    // Threshold 5: five requests of three attempts each reached the provider, the sixth does not.
    expect(chatRequests()).toHaveLength(15);
    const refused = await client.post(`/conversations/${conversationId}/messages`, { content: 'Once more' });
    expect(refused.json().answer).toMatchObject({ status: 'failed', stopReason: 'provider_unavailable' });
    expect(chatRequests()).toHaveLength(15);
    const messages = (await client.get(`/conversations/${conversationId}/messages`)).json().messages;
    expect(messages.filter((m: { role: string }) => m.role === 'user').map((m: { text: string }) => m.text)).toContain('Once more');
  });

  it('times out a provider that never answers', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'hang' });
    const started = Date.now();
    const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'Anyone?' });
    expect(response.json().answer).toMatchObject({ status: 'failed', stopReason: 'provider_timeout' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps the partial answer when the provider drops the stream midway', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'disconnect', text: 'one two three four five six', afterTokens: 3 });
    const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'Count' });
    expect(response.json().answer).toMatchObject({ text: 'one two three', status: 'incomplete', stopReason: 'provider_unavailable' });
    const stored = (await client.get(`/conversations/${conversationId}/messages`)).json().messages.at(-1);
    expect(stored).toMatchObject({ text: 'one two three', status: 'incomplete' });
  });

  it('keeps the partial answer, marked incomplete, when the client disconnects mid-stream', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: tokens(60), chunkDelayMs: 30 });
    // A browser tab closing: the socket goes away mid-stream.
    await new Promise<void>((resolve, reject) => {
      const request = http.request(`${chat.baseUrl}/api/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: client.headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
      });
      request.on('error', () => undefined);
      request.on('response', (response) => {
        let received = '';
        response.on('data', (chunk: Buffer) => {
          received += chunk.toString();
          if ((received.match(/event: delta/g) ?? []).length >= 5) {
            request.destroy();
            resolve();
          }
        });
        response.on('error', () => undefined);
      });
      request.on('close', () => reject(new Error('closed before five deltas')));
      request.end(JSON.stringify({ content: 'Count slowly' }));
    });
    let last: { status: string; text: string; stopReason: string } | undefined;
    await expect
      .poll(
        async () => {
          last = (await client.get(`/conversations/${conversationId}/messages`)).json().messages.at(-1);
          return last?.status;
        },
        { timeout: 5_000 },
      )
      .toBe('incomplete');
    expect(last!.stopReason).toBe('disconnected');
    expect(last!.text.length).toBeGreaterThan(0);
    expect(tokens(60).startsWith(last!.text)).toBe(true);
    expect(last!.text).not.toBe(tokens(60));
  });

  it('cancels an answer in progress from another request', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: tokens(100), chunkDelayMs: 20 });
    const pending = client.post(`/conversations/${conversationId}/messages`, { content: 'Long answer please' });
    await expect.poll(() => chatRequests().length, { timeout: 5_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await client.post(`/conversations/${conversationId}/cancel`)).json()).toEqual({ cancelled: true });
    const answer = (await pending).json().answer;
    expect(answer).toMatchObject({ status: 'incomplete', stopReason: 'cancelled' });
    expect(answer.text.length).toBeGreaterThan(0);
  });

  it('cancels an answer streaming on another API copy, and says so', async () => {
    const { client, conversationId } = await setUpChat(chat);
    // A second copy on the same database and store, as behind a load balancer.
    const second = await buildTestApp({ database: chat.t.database, store: chat.t.store, clock: chat.clock, env: { REQUIRE_MFA: 'none' } });
    try {
      const onSecond = new ApiClient(second, client.userId, client.email, client.key);
      chat.fake.enqueue({ kind: 'text', text: tokens(100), chunkDelayMs: 20 });
      const pending = client.post(`/conversations/${conversationId}/messages`, { content: 'Long answer please' });
      await expect.poll(() => chatRequests().length, { timeout: 5_000 }).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await onSecond.post(`/conversations/${conversationId}/cancel`)).json()).toEqual({ cancelled: true });
      expect((await pending).json().answer).toMatchObject({ status: 'incomplete', stopReason: 'cancelled' });
      // Nothing is streaming any more: a second cancel says so.
      expect((await onSecond.post(`/conversations/${conversationId}/cancel`)).json()).toEqual({ cancelled: false });
    } finally {
      await second.close();
    }
  });

  it('serves the second identical deterministic request from the cache, scoped to the workspace', async () => {
    const admin = await apiUser(chat.t, { role: 'admin' });
    const { client, agentId } = await setUpChat(chat, { agent: { temperature: 0 }, client: admin });
    const ask = async (conversationId: string) => (await client.post(`/conversations/${conversationId}/messages`, { content: 'Deterministic?' })).json().answer;
    const before = (await admin.get('/admin/caches')).json().caches.llm ?? { hits: 0, misses: 0 };
    const first = await ask(conversationId(await client.post('/conversations', { agentId })));
    const second = await ask(conversationId(await client.post('/conversations', { agentId })));
    expect(second.text).toBe(first.text);
    expect(first.text).toBe(DEFAULT_TEXT);
    expect(chatRequests()).toHaveLength(1);
    const after = (await admin.get('/admin/caches')).json().caches.llm;
    expect(after.hits - before.hits).toBe(1);

    // Another workspace asking the same thing of the same provider is not served from this one's cache.
    const other = await setUpChat(chat, { agent: { temperature: 0 } });
    await other.client.post(`/conversations/${other.conversationId}/messages`, { content: 'Deterministic?' });
    expect(chatRequests()).toHaveLength(2);
    // A non-deterministic agent is never cached.
    const warm = await setUpChat(chat, { agent: { temperature: 0.7 }, client: other.client });
    await warm.client.post(`/conversations/${warm.conversationId}/messages`, { content: 'Deterministic?' });
    await warm.client.post(`/conversations/${warm.conversationId}/messages`, { content: 'Deterministic?' });
    expect(chatRequests()).toHaveLength(4);
    expect((await client.get('/admin/caches')).statusCode).toBe(200);
    expect((await other.client.get('/admin/caches')).statusCode).toBe(403);
  });

  it('stops calling the provider once the workspace budget is spent, writing nothing [ASVS 2.4.1]', async () => {
    const { client, conversationId } = await setUpChat(chat);
    const workspaceId = (await client.get('/workspaces')).json().workspaces[0].id;
    expect((await client.patch(`/workspaces/${workspaceId}`, { monthlyTokenBudget: 20 })).statusCode).toBe(200);
    chat.fake.enqueue({ kind: 'text', text: 'Spent.', usage: { input: 15, output: 10 } });
    expect((await client.post(`/conversations/${conversationId}/messages`, { content: 'Spend it' })).json().answer.status).toBe('complete');
    expect((await client.get(`/workspaces/${workspaceId}/usage`)).json()).toMatchObject({ inputTokens: 15, outputTokens: 10, budget: 20 });
    const refused = await client.post(`/conversations/${conversationId}/messages`, { content: 'More please' });
    expect(refused.statusCode).toBe(402);
    expect(refused.json().error.code).toBe('budget_exhausted');
    expect((await client.get(`/conversations/${conversationId}/messages`)).json().messages).toHaveLength(2);
    expect(chatRequests()).toHaveLength(1);
  });

  it('answers with the built-in extractive provider when no connection is set, and says when it knows nothing', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const answer = (await client.post(`/conversations/${conversationId}/messages`, { content: 'What is the refund policy?' })).json().answer;
    expect(answer).toMatchObject({ text: NO_ANSWER, status: 'complete', citations: [] });
    expect(chatRequests()).toHaveLength(0);
  });

  it('regenerates the last answer, keeping the replaced one out of sight', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: 'Draft one.' }, { kind: 'text', text: 'Draft two.' });
    await client.post(`/conversations/${conversationId}/messages`, { content: 'Write something' });
    const again = await client.post(`/conversations/${conversationId}/regenerate`, {}, { accept: 'text/event-stream' });
    expect(parseEvents(again.body).at(-1)!.data.message.text).toBe('Draft two.');
    const visible = (await client.get(`/conversations/${conversationId}/messages`)).json().messages;
    expect(visible.map((m: { text: string }) => m.text)).toEqual(['Write something', 'Draft two.']);
    const all = (await client.get(`/conversations/${conversationId}/messages?includeSuperseded=true`)).json().messages;
    expect(all).toHaveLength(3);
    expect(chatRequests()[1]!.body.messages.filter((m: { role: string }) => m.role !== 'system')).toEqual([{ role: 'user', content: 'Write something' }]);
  });

  it('runs an agent headless and records the run as a conversation', async () => {
    const { client, agentId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: 'Summary done.' });
    const run = await client.post(`/agents/${agentId}/runs`, { input: 'Summarise' });
    expect(run.statusCode).toBe(201);
    expect(run.json()).toMatchObject({ answer: { text: 'Summary done.', status: 'complete' } });
    const conversation = (await client.get(`/conversations/${run.json().conversationId}`)).json();
    expect(conversation.source).toBe('run');
  });

  it('marks answers left streaming by a stopped process as incomplete, keeping their text', async () => {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: 'Half an answer' });
    await client.post(`/conversations/${conversationId}/messages`, { content: 'Go' });
    const db = chat.t.database.db;
    const old = new Date(Date.now() - 60 * 60_000);
    await db.updateTable('messages').set({ status: 'streaming', updated_at: old }).where('conversation_id', '=', conversationId).where('role', '=', 'assistant').execute();
    expect(await markAbandoned(db, new Date(Date.now() - 15 * 60_000))).toBe(1);
    const answer = (await client.get(`/conversations/${conversationId}/messages`)).json().messages.at(-1);
    expect(answer).toMatchObject({ status: 'incomplete', stopReason: 'interrupted', text: 'Half an answer' });
    expect(await markAbandoned(db, new Date(Date.now() - 15 * 60_000))).toBe(0);
  });

  it('refuses hostile input with clear 4xx errors and writes nothing', async () => {
    const { client, conversationId } = await setUpChat(chat);
    for (const body of [{}, { content: '' }, { content: '   ' }, { content: 42 }, { content: 'x'.repeat(32_001) }, { content: 'hi', role: 'system' }, ['content']]) {
      const response = await client.post(`/conversations/${conversationId}/messages`, body);
      expect(response.statusCode, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    expect((await client.post('/conversations/not-a-uuid/messages', { content: 'hi' })).statusCode).toBe(404); // a malformed id names nothing
    const missing = await client.post('/conversations/00000000-0000-4000-8000-000000000000/messages', { content: 'hi' }, { accept: 'text/event-stream' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
    expect((await client.post('/conversations', { agentId: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(404);
    expect((await client.get(`/conversations/${conversationId}/messages`)).json().messages).toEqual([]);
    expect(chatRequests()).toHaveLength(0);
  });
});

function conversationId(response: { json(): { id: string } }): string {
  return response.json().id;
}
