/**
 * Files attached to a conversation through the API: the knowledge intake and ingestion, the
 * answers citing them, only in that conversation and only for its owner, hostile files
 * refused, and everything gone with the attachment or the conversation.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { silentLogger } from '../../../test/harness.js';
import { EICAR, multipart } from '../../../test/uploads.js';
import { systemClock } from '../../platform/clock.js';
import { ApiKeyService } from '../api-keys/service.js';
import { RESTORE_WINDOW_MS } from './organise.js';
import { DeletedConversationPurge } from './purge.js';

const chat = useChatApp({ UPLOAD_MAX_BYTES: '200000' });

const FACT = '# Lighthouse\n\nThe Quillhaven lighthouse keeper feeds the gulls at 7:40 every morning.\n';

function attach(client: ApiClient, conversationId: string, filename: string, content: Buffer | string, type?: string) {
  const { payload, headers } = multipart(filename, content, type);
  return chat.t.app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/attachments`, headers: client.headers(headers), payload });
}

async function ready(client: ApiClient, conversationId: string, id: string) {
  let found: { status: string; chunkCount: number } | undefined;
  await expect
    .poll(
      async () => {
        found = (await client.get(`/conversations/${conversationId}/attachments`)).json().attachments.find((a: { id: string }) => a.id === id);
        return found?.status;
      },
      { timeout: 15_000, interval: 100 },
    )
    .toBe('ready');
  return found!;
}

/** The conversation's hidden base, as the database holds it. */
async function baseOf(conversationId: string): Promise<string | undefined> {
  return (await chat.t.database.db.selectFrom('knowledge_bases').select('id').where('conversation_id', '=', conversationId).executeTakeFirst())?.id;
}

async function ask(client: ApiClient, conversationId: string, content: string) {
  const response = await client.post(`/conversations/${conversationId}/messages`, { content });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().answer as { text: string; citations: { source: string; text: string }[] };
}

describe('conversation attachments', () => {
  it('ingests an attached file, cites it by name in that conversation only, and keeps it out of the workspace knowledge', async () => {
    const { client, agentId, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const attached = await attach(client, conversationId, 'lighthouse.md', FACT, 'text/markdown');
    expect(attached.statusCode, attached.body).toBe(202);
    expect(attached.json()).toMatchObject({ filename: 'lighthouse.md', kind: 'md', sizeBytes: Buffer.byteLength(FACT), error: null });
    expect(['processing', 'scanning']).toContain(attached.json().status);
    expect(await ready(client, conversationId, attached.json().id)).toMatchObject({ status: 'ready', chunkCount: 1 });

    // The agent has no knowledge bases of its own: the passage comes from the attachment, with its file name.
    const answer = await ask(client, conversationId, 'When does the Quillhaven lighthouse keeper feed the gulls?');
    expect(answer.text).toContain('7:40');
    expect(answer.citations[0]!.source).toContain('lighthouse.md');

    // Another conversation of the same user with the same agent does not see it.
    const other = (await client.post('/conversations', { agentId })).json().id;
    const elsewhere = await ask(client, other, 'When does the Quillhaven lighthouse keeper feed the gulls?');
    expect(elsewhere.citations).toEqual([]);
    expect(elsewhere.text).not.toContain('7:40');
    expect((await client.get(`/conversations/${other}/attachments`)).json().attachments).toEqual([]);

    // Hidden from the workspace's knowledge: lists, reads, documents, search, and agents cannot name it.
    const baseId = (await baseOf(conversationId))!;
    expect((await client.get('/knowledge-bases')).json().knowledgeBases.map((b: { id: string }) => b.id)).not.toContain(baseId);
    for (const response of [
      await client.get(`/knowledge-bases/${baseId}`),
      await client.get(`/knowledge-bases/${baseId}/documents`),
      await client.get(`/knowledge-bases/${baseId}/documents/${attached.json().id}`),
      await client.post(`/knowledge-bases/${baseId}/search`, { query: 'gulls' }),
      await client.delete(`/knowledge-bases/${baseId}/documents/${attached.json().id}`),
      await client.delete(`/knowledge-bases/${baseId}`),
    ]) {
      expect(response.statusCode, response.body).toBe(404);
    }
    const agent = await client.post('/agents', { name: 'Thief', knowledgeBaseIds: [baseId] });
    expect(agent.statusCode, agent.body).toBe(400);
    expect(await baseOf(conversationId)).toBe(baseId);
  });

  it('the search_knowledge tool searches the conversation’s attachments too', async () => {
    const { client, conversationId } = await setUpChat(chat, { agent: { tools: ['search_knowledge'] } });
    const attached = await attach(client, conversationId, 'lighthouse.md', FACT, 'text/markdown');
    await ready(client, conversationId, attached.json().id);
    chat.fake.enqueue({ kind: 'tool_call', name: 'search_knowledge', arguments: { query: 'lighthouse keeper gulls' } }, { kind: 'text', text: 'At 7:40 [2].' });
    const answer = await ask(client, conversationId, 'Look it up: when are the gulls fed?');
    expect(answer.text).toBe('At 7:40 [2].');
    const toolMessage = chat.fake.requests
      .filter((r) => r.path.endsWith('/chat/completions'))
      .at(-1)!
      .body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(toolMessage.content).toContain('7:40 every morning');
    expect(toolMessage.content).toContain('lighthouse.md');
    expect(answer.citations.map((c) => c.source).join(' ')).toContain('lighthouse.md');
  });

  it('only the owner: a colleague and a stranger get 404 and their chats never find the attachment', async () => {
    const owner = await apiUser(chat.t);
    const shared = (await owner.post('/workspaces', { name: 'Team' })).json();
    owner.workspaceId = shared.id;
    const { agentId, conversationId } = await setUpChat(chat, { client: owner, kind: 'extractive' });
    const attached = await attach(owner, conversationId, 'lighthouse.md', FACT, 'text/markdown');
    await ready(owner, conversationId, attached.json().id);

    const colleague = await apiUser(chat.t);
    await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: shared.id, user_id: colleague.userId, role: 'admin', created_at: new Date() }).execute();
    colleague.workspaceId = shared.id;
    const stranger = await apiUser(chat.t);
    for (const [who, client] of [
      ['colleague', colleague],
      ['stranger', stranger],
    ] as const) {
      for (const response of [
        await attach(client, conversationId, 'mine.md', '# Mine\n\nhello\n', 'text/markdown'),
        await client.get(`/conversations/${conversationId}/attachments`),
        await client.delete(`/conversations/${conversationId}/attachments/${attached.json().id}`),
      ]) {
        expect(response.statusCode, `${who}: ${response.body}`).toBe(404);
        expect(response.json().error.code).toBe('not_found');
      }
    }
    // The colleague's own conversation with the same agent, in the same workspace, does not search it.
    const theirs = (await colleague.post('/conversations', { agentId })).json().id;
    expect((await ask(colleague, theirs, 'When does the Quillhaven lighthouse keeper feed the gulls?')).citations).toEqual([]);
    // A conversation id that does not exist answers the same.
    expect((await owner.get(`/conversations/${randomUUID()}/attachments`)).statusCode).toBe(404);
    // Nothing changed for the owner.
    expect((await owner.get(`/conversations/${conversationId}/attachments`)).json().attachments).toHaveLength(1);
    expect(await chat.t.database.db.selectFrom('knowledge_bases').select('id').where('conversation_id', '=', theirs).execute()).toEqual([]);
  });

  it('refuses hostile files with the knowledge intake’s 4xx codes, writing nothing', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const refusals: [string, Buffer | string, string | undefined, number, string][] = [
      ['eicar.txt', EICAR, 'text/plain', 422, 'malware_detected'],
      ['report.pdf', Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(200, 1)]), 'application/pdf', 415, 'unsupported_file_type'],
      ['notes.exe', 'hello', 'application/octet-stream', 415, 'unsupported_file_type'],
      ['big.txt', 'a'.repeat(200_001), 'text/plain', 413, 'payload_too_large'],
      ['../../etc/passwd.txt', 'hello', 'text/plain', 400, 'invalid_filename'],
      ['..\\..\\windows\\win.ini.txt', 'hello', 'text/plain', 400, 'invalid_filename'],
      ['empty.txt', '', 'text/plain', 422, 'invalid_file'],
    ];
    for (const [filename, content, type, status, code] of refusals) {
      const response = await attach(client, conversationId, filename, content, type);
      expect(response.statusCode, `${filename}: ${response.body}`).toBe(status);
      expect(response.json().error.code, filename).toBe(code);
      if (filename === 'big.txt') expect(response.json().error.message).toBe('The file is larger than the 195 KB allowed (UPLOAD_MAX_BYTES).');
    }
    expect((await client.get(`/conversations/${conversationId}/attachments`)).json().attachments).toEqual([]);
    // Not multipart, or a part with another name: a clear 4xx, never a 500.
    const json = await client.post(`/conversations/${conversationId}/attachments`, { file: 'x' });
    expect(json.statusCode).toBeGreaterThanOrEqual(400);
    expect(json.statusCode).toBeLessThan(500);
    const { payload, headers } = multipart('a.txt', 'hello', 'text/plain', 'other');
    const renamed = await chat.t.app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/attachments`, headers: client.headers(headers), payload });
    expect(renamed.statusCode, renamed.body).toBe(400);
    expect(renamed.json().error.code).toBe('validation_failed');
    expect((await client.get('/conversations/not-a-uuid/attachments')).statusCode, 'a malformed id is as unknown as a missing one').toBe(404);
  });

  it('concurrent first attachments share one base', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const responses = await Promise.all([1, 2, 3, 4].map((n) => attach(client, conversationId, `note-${n}.txt`, `Note number ${n} about pelicans.`, 'text/plain')));
    expect(responses.map((r) => r.statusCode)).toEqual([202, 202, 202, 202]);
    const bases = await chat.t.database.db.selectFrom('knowledge_bases').select('id').where('conversation_id', '=', conversationId).execute();
    expect(bases).toHaveLength(1);
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(4);
    expect((await client.get(`/conversations/${conversationId}/attachments`)).json().attachments).toHaveLength(4);
  });

  it('removes an attachment, and the purge of a deleted conversation removes its base, documents, originals and chunks', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const db = chat.t.database.db;
    const first = (await attach(client, conversationId, 'lighthouse.md', FACT, 'text/markdown')).json().id;
    const second = (await attach(client, conversationId, 'tides.md', '# Tides\n\nHigh tide at Quillhaven is at noon.\n', 'text/markdown')).json().id;
    await ready(client, conversationId, first);
    await ready(client, conversationId, second);

    expect((await client.delete(`/conversations/${conversationId}/attachments/${first}`)).statusCode).toBe(200);
    expect((await client.delete(`/conversations/${conversationId}/attachments/${first}`)).statusCode, 'already gone').toBe(404);
    expect(await db.selectFrom('chunks').select('id').where('document_id', '=', first).execute()).toEqual([]);
    expect(await db.selectFrom('document_blobs').select('document_id').where('document_id', '=', first).execute()).toEqual([]);
    expect((await ask(client, conversationId, 'When does the Quillhaven lighthouse keeper feed the gulls?')).text).not.toContain('7:40');
    expect((await client.get(`/conversations/${conversationId}/attachments`)).json().attachments.map((a: { id: string }) => a.id)).toEqual([second]);

    const baseId = (await baseOf(conversationId))!;
    expect((await client.delete(`/conversations/${conversationId}`)).statusCode).toBe(200);
    // Deleted (restorable): its attachments are out of reach like the conversation.
    expect((await client.get(`/conversations/${conversationId}/attachments`)).statusCode).toBe(404);
    expect((await attach(client, conversationId, 'late.md', '# Late\n\nx\n', 'text/markdown')).statusCode).toBe(404);
    chat.clock.advance(RESTORE_WINDOW_MS + 1_000);
    await new DeletedConversationPurge(db, chat.clock, silentLogger).purge();
    expect(await db.selectFrom('knowledge_bases').select('id').where('id', '=', baseId).execute()).toEqual([]);
    expect(await db.selectFrom('documents').select('id').where('knowledge_base_id', '=', baseId).execute()).toEqual([]);
    expect(await db.selectFrom('document_blobs').select('document_id').where('document_id', '=', second).execute()).toEqual([]);
    expect(await db.selectFrom('chunks').select('id').where('knowledge_base_id', '=', baseId).execute()).toEqual([]);
  });

  it('needs conversations:write to attach or remove and conversations:read to list', async () => {
    const { client, conversationId } = await setUpChat(chat, { kind: 'extractive' });
    const { key } = await new ApiKeyService(chat.t.database.db, systemClock, chat.t.store).create(client.userId, { name: 'read only', scopes: ['conversations:read'] });
    const { payload, headers } = multipart('a.txt', 'hello there', 'text/plain');
    const attached = await chat.t.app.inject({ method: 'POST', url: `/api/v1/conversations/${conversationId}/attachments`, headers: { ...headers, authorization: `Bearer ${key}` }, payload });
    expect(attached.statusCode).toBe(403);
    expect(attached.json().error.code).toBe('insufficient_scope');
    const own = (await attach(client, conversationId, 'a.txt', 'hello there', 'text/plain')).json().id;
    const removed = await chat.t.app.inject({ method: 'DELETE', url: `/api/v1/conversations/${conversationId}/attachments/${own}`, headers: { authorization: `Bearer ${key}` } });
    expect(removed.statusCode).toBe(403);
    const listed = await chat.t.app.inject({ method: 'GET', url: `/api/v1/conversations/${conversationId}/attachments`, headers: { authorization: `Bearer ${key}` } });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().attachments).toHaveLength(1);
  });
});
