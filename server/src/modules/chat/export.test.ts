/**
 * Exporting one conversation through the API: Markdown and JSON downloads with the title,
 * agent, dates, every message and its citations (document, chunk, passage), only the
 * owner's data, and hostile titles carried as text, never as markup.
 */
import { expect, it } from 'vitest';
import type { ApiClient } from '../../../test/api-client.js';
import { apiUser } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { multipart } from '../../../test/uploads.js';

const chat = useChatApp();

const HANDBOOK = ['# Handbook', '', '## Refunds', '', 'Annual plans can be refunded within 30 days of purchase. Monthly plans are not refunded.'].join('\n');

/** A knowledge base with the handbook, ingested. */
async function handbook(client: ApiClient): Promise<{ baseId: string; documentId: string }> {
  const baseId = (await client.post('/knowledge-bases', { name: 'Handbook' })).json().id as string;
  const { payload, headers } = multipart('handbook.md', HANDBOOK, 'text/markdown');
  const uploaded = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
  expect(uploaded.statusCode, uploaded.body).toBe(202);
  const documentId = uploaded.json().id as string;
  await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents/${documentId}`)).json().status, { timeout: 15_000, interval: 100 }).toBe('ready');
  return { baseId, documentId };
}

it('exports a conversation as Markdown and JSON, with its citations, as attachments [ASVS 3.2.1, 5.4.1]', async () => {
  const client = await apiUser(chat.t);
  const { baseId, documentId } = await handbook(client);
  const { conversationId } = await setUpChat(chat, { client, agent: { knowledgeBaseIds: [baseId] } });
  chat.fake.enqueue({ kind: 'text', text: 'Annual plans are refunded within **30 days** [1].' });
  expect((await client.post(`/conversations/${conversationId}/messages`, { content: 'Can I get a refund?' })).statusCode).toBe(201);
  expect((await client.patch(`/conversations/${conversationId}`, { title: 'Refunds <b>& more</b>' })).statusCode).toBe(200);

  const markdown = await client.get(`/conversations/${conversationId}/export?format=markdown`);
  expect(markdown.statusCode, markdown.body).toBe(200);
  expect(markdown.headers['content-type']).toBe('text/markdown; charset=utf-8');
  expect(markdown.headers['x-content-type-options']).toBe('nosniff');
  expect(markdown.headers['cache-control']).toBe('no-store');
  expect(markdown.headers['content-disposition']).toBe(`attachment; filename="refunds-b-more-b-${conversationId.slice(0, 8)}.md"`);
  const text = markdown.body;
  expect(text.startsWith('# Refunds \\<b\\>\\& more\\</b\\>\n'), 'the title is text, not HTML').toBe(true);
  expect(text).toContain('- Agent: Helper (version 1)');
  expect(text).toMatch(/- Started: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  expect(text).toContain('### User · ');
  expect(text).toContain('Can I get a refund?');
  expect(text).toContain('### Assistant · ');
  expect(text).toContain('*Helper · model fake-model-1*');
  expect(text).toContain('Annual plans are refunded within **30 days** [^2-1].');
  expect(text).toContain(`[^2-1]: **handbook.md › Handbook \\> Refunds (chunk 1)** (document ${documentId}, chunk 1)`);
  expect(text).toContain('    > Annual plans can be refunded within 30 days of purchase.');
  expect((await client.get(`/conversations/${conversationId}/export`)).body, 'markdown is the default').toBe(text);

  const json = await client.get(`/conversations/${conversationId}/export?format=json`);
  expect(json.statusCode, json.body).toBe(200);
  expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(json.headers['content-disposition']).toBe(`attachment; filename="refunds-b-more-b-${conversationId.slice(0, 8)}.json"`);
  const doc = json.json();
  expect(doc).toMatchObject({
    format: 'bastion.conversation.v1',
    conversation: { id: conversationId, title: 'Refunds <b>& more</b>', pinned: false, archived: false, source: 'chat' },
    agent: { name: 'Helper', version: 1 },
  });
  expect(doc.messages).toHaveLength(2);
  expect(doc.messages[0]).toMatchObject({ role: 'user', text: 'Can I get a refund?', status: 'complete', citations: [] });
  expect(doc.messages[1]).toMatchObject({ role: 'assistant', status: 'complete', model: 'fake-model-1', agentVersion: 1, usage: { inputTokens: expect.any(Number) } });
  expect(doc.messages[1].citations).toEqual([
    {
      marker: '1',
      source: 'handbook.md › Handbook > Refunds (chunk 1)',
      text: expect.stringContaining('within 30 days of purchase'),
      score: expect.any(Number),
      documentId,
      knowledgeBaseId: baseId,
      document: 'handbook.md',
      heading: 'Handbook > Refunds',
      chunk: 1,
    },
  ]);
  // The messages API names the passage's origin too.
  const messages = (await client.get(`/conversations/${conversationId}/messages`)).json().messages;
  expect(messages[1].citations[0].origin).toEqual({ documentId, knowledgeBaseId: baseId, filename: 'handbook.md', heading: 'Handbook > Refunds', chunk: 1 });
});

it('exports only the caller’s own conversation, without anyone else’s messages', async () => {
  const owner = await apiUser(chat.t);
  const shared = (await owner.post('/workspaces', { name: 'Team' })).json();
  owner.workspaceId = shared.id;
  const { agentId, conversationId } = await setUpChat(chat, { client: owner });
  chat.fake.enqueue({ kind: 'text', text: 'Owner answer.' });
  await owner.post(`/conversations/${conversationId}/messages`, { content: 'Owner question' });

  const colleague = await apiUser(chat.t);
  await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: shared.id, user_id: colleague.userId, role: 'member', created_at: new Date() }).execute();
  colleague.workspaceId = shared.id;
  const theirs = (await colleague.post('/conversations', { agentId })).json().id;
  chat.fake.enqueue({ kind: 'text', text: 'Colleague answer.' });
  await colleague.post(`/conversations/${theirs}/messages`, { content: 'Colleague secret marker-7f3a' });

  for (const format of ['markdown', 'json']) {
    const mine = await owner.get(`/conversations/${conversationId}/export?format=${format}`);
    expect(mine.statusCode).toBe(200);
    expect(mine.body).toContain('Owner question');
    expect(mine.body).not.toContain('marker-7f3a');
    expect((await owner.get(`/conversations/${theirs}/export?format=${format}`)).statusCode).toBe(404);
    expect((await colleague.get(`/conversations/${conversationId}/export?format=${format}`)).statusCode).toBe(404);
  }
});

it('exports an empty or untitled conversation, and one whose agent was deleted', async () => {
  const { client, agentId, conversationId } = await setUpChat(chat);
  const empty = await client.get(`/conversations/${conversationId}/export`);
  expect(empty.statusCode).toBe(200);
  expect(empty.headers['content-disposition']).toBe(`attachment; filename="conversation-${conversationId.slice(0, 8)}.md"`);
  expect(empty.body).toContain('# Untitled conversation');
  expect(empty.body).toContain('*No messages yet.*');
  expect((await client.delete(`/agents/${agentId}`)).statusCode).toBe(200);
  const orphan = (await client.get(`/conversations/${conversationId}/export?format=json`)).json();
  expect(orphan.agent).toEqual({ id: agentId, name: null, version: 1 });
  expect(orphan.messages).toEqual([]);
});
