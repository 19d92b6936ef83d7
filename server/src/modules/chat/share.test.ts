/**
 * Sharing a conversation read-only through the API: the author shares, sees and revokes
 * the link; current members of the workspace read it (decrypted, with citations, nothing
 * else); strangers, removed members, revoked, malformed and deleted shares are the same
 * 404; parallel requests make one share; each step is audited without message text.
 */
import { randomUUID } from 'node:crypto';
import { strFromU8, unzipSync } from 'fflate';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { silentLogger } from '../../../test/harness.js';
import { systemClock } from '../../platform/clock.js';
import { ApiKeyService } from '../api-keys/service.js';
import { buildExportArchive } from '../privacy/export-archive.js';
import { RESTORE_WINDOW_MS } from './organise.js';
import { DeletedConversationPurge } from './purge.js';
import { MessageSealing } from './sealing.js';

const chat = useChatApp();

async function ask(client: ApiClient, conversationId: string, content: string): Promise<void> {
  chat.fake.enqueue({ kind: 'text', text: `Answer to ${content}` });
  expect((await client.post(`/conversations/${conversationId}/messages`, { content })).statusCode).toBe(201);
}

async function join(workspaceId: string, role: 'admin' | 'member' | 'viewer' = 'member'): Promise<ApiClient> {
  const client = await apiUser(chat.t);
  await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: workspaceId, user_id: client.userId, role, created_at: new Date() }).execute();
  client.workspaceId = workspaceId;
  return client;
}

/** An author in a team workspace with a conversation of one question and answer, and a colleague there. */
async function team() {
  const author = await apiUser(chat.t);
  const workspace = (await author.post('/workspaces', { name: 'Team' })).json();
  author.workspaceId = workspace.id;
  const { agentId, conversationId } = await setUpChat(chat, { client: author });
  await ask(author, conversationId, 'What is the refund window?');
  const colleague = await join(workspace.id);
  return { author, colleague, workspaceId: workspace.id as string, agentId, conversationId };
}

const shareRows = (conversationId: string) => chat.t.database.db.selectFrom('conversation_shares').selectAll().where('conversation_id', '=', conversationId).execute();
const auditEntries = (action: string, shareId: string) => chat.t.database.db.selectFrom('audit_entries').selectAll().where('action', '=', action).where('target_id', '=', shareId).execute();

async function expectGone(client: ApiClient, shareId: string, who: string): Promise<void> {
  const response = await client.get(`/shared/${encodeURIComponent(shareId)}`);
  expect(response.statusCode, `${who}: ${response.body}`).toBe(404);
  expect(response.json().error, who).toEqual({ code: 'not_found', message: 'No such shared conversation, or it is no longer shared with you.', ...(response.json().error.requestId ? { requestId: response.json().error.requestId } : {}) });
}

describe('sharing a conversation', () => {
  it('shares read-only with a colleague, audited, and revoking ends it at once', async () => {
    const { author, colleague, workspaceId, conversationId } = await team();
    expect((await author.get(`/conversations/${conversationId}/share`)).json()).toEqual({ shared: false, share: null });

    const created = await author.post(`/conversations/${conversationId}/share`);
    expect(created.statusCode, created.body).toBe(201);
    const { shareId, path } = created.json();
    expect(shareId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(path).toBe(`/shared/${shareId}`);
    const again = await author.post(`/conversations/${conversationId}/share`);
    expect(again.statusCode).toBe(200);
    expect(again.json().shareId, 'sharing again answers the same link').toBe(shareId);
    expect((await author.get(`/conversations/${conversationId}/share`)).json()).toMatchObject({ shared: true, share: { shareId, path } });

    // The colleague reads it without naming the workspace; nothing to write with (no ids).
    colleague.workspaceId = undefined;
    const read = await colleague.get(`/shared/${shareId}`);
    expect(read.statusCode, read.body).toBe(200);
    const body = read.json();
    expect(body.title).toBe('What is the refund window?');
    expect(body.messages.map((m: { role: string; text: string }) => [m.role, m.text])).toEqual([
      ['user', 'What is the refund window?'],
      ['assistant', 'Answer to What is the refund window?'],
    ]);
    expect(Object.keys(body).sort()).toEqual(['messages', 'sharedAt', 'sharedBy', 'title']);
    expect(Object.keys(body.messages[0]).sort()).toEqual(['citations', 'createdAt', 'role', 'status', 'text']);
    expect(read.body).not.toContain(conversationId);
    expect(read.body).not.toContain(workspaceId);
    expect(
      chat.fake.requests.filter((r) => r.method === 'POST'),
      'reading runs no model',
    ).toHaveLength(1);
    expect((await author.get(`/shared/${shareId}`)).statusCode, 'the author reads it too').toBe(200);

    // Audited: ids only, never the text.
    expect(await auditEntries('conversation.shared', shareId)).toHaveLength(1);
    const viewed = await auditEntries('conversation.share_viewed', shareId);
    expect(viewed.map((e) => e.actor_id).sort()).toEqual([author.userId, colleague.userId].sort());
    expect(JSON.stringify(viewed)).not.toContain('refund');

    const revoked = await author.delete(`/conversations/${conversationId}/share`);
    expect(revoked.json()).toEqual({ ok: true, revoked: true });
    await expectGone(colleague, shareId, 'colleague after revoke');
    await expectGone(author, shareId, 'author after revoke');
    expect((await author.delete(`/conversations/${conversationId}/share`)).json(), 'a repeated revoke').toEqual({ ok: true, revoked: false });
    expect(await auditEntries('conversation.share_revoked', shareId)).toHaveLength(1);
    expect((await author.get(`/conversations/${conversationId}/share`)).json()).toEqual({ shared: false, share: null });

    // Sharing again makes a new link; the revoked one stays dead.
    const renewed = await author.post(`/conversations/${conversationId}/share`);
    expect(renewed.statusCode).toBe(201);
    expect(renewed.json().shareId).not.toBe(shareId);
    expect((await colleague.get(`/shared/${renewed.json().shareId}`)).statusCode).toBe(200);
    await expectGone(colleague, shareId, 'old link');
  });

  it('shows the passages an answer cites, decrypted from the sealed message', async () => {
    const { author, colleague, workspaceId, conversationId } = await team();
    const id = randomUUID();
    const now = new Date();
    const sealing = new MessageSealing(chat.t.encryptor);
    const content = await sealing.sealContent(workspaceId, id, {
      text: 'Thirty days [1].',
      citations: [
        { id: '1', source: 'handbook.pdf › Refunds (chunk 3)', text: 'Refunds within 30 days.', score: 0.9, origin: { documentId: randomUUID(), knowledgeBaseId: randomUUID(), filename: 'handbook.pdf', heading: 'Refunds', chunk: 3 } },
      ],
      toolCalls: [{ name: 'calculator', arguments: '{"expression":"1+1"}', ok: true, result: '2' } as never],
    });
    await chat.t.database.db
      .insertInto('messages')
      .values({ id, conversation_id: conversationId, workspace_id: workspaceId, role: 'assistant', content, status: 'complete', stop_reason: 'stop', agent_version: 1, model: 'fake-model-1', created_at: now, updated_at: now })
      .execute();
    const { shareId } = (await author.post(`/conversations/${conversationId}/share`)).json();
    const read = await colleague.get(`/shared/${shareId}`);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json().messages.at(-1)).toMatchObject({ text: 'Thirty days [1].', citations: [{ marker: '1', source: 'handbook.pdf › Refunds (chunk 3)', text: 'Refunds within 30 days.', score: 0.9 }] });
    // Document and knowledge-base ids, tool calls and models stay with the author.
    expect(read.body).not.toContain('calculator');
    expect(read.body).not.toContain('fake-model-1');
    expect(read.json().messages.at(-1).citations[0]).not.toHaveProperty('documentId');
  });

  it('makes one share from parallel requests, and one revoke wins', async () => {
    const { author, conversationId } = await team();
    const answers = await Promise.all(Array.from({ length: 8 }, () => author.post(`/conversations/${conversationId}/share`)));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.json().shareId)).size).toBe(1);
    expect(await shareRows(conversationId)).toHaveLength(1);
    expect(await auditEntries('conversation.shared', answers[0]!.json().shareId)).toHaveLength(1);

    const revokes = await Promise.all(Array.from({ length: 6 }, () => author.delete(`/conversations/${conversationId}/share`)));
    expect(revokes.map((r) => r.json().revoked).sort()).toEqual([false, false, false, false, false, true]);

    // Shares and revokes racing: never two active shares.
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([author.post(`/conversations/${conversationId}/share`), author.delete(`/conversations/${conversationId}/share`), author.post(`/conversations/${conversationId}/share`)]);
      for (const r of results) expect(r.statusCode, r.body).toBeLessThan(300);
      expect((await shareRows(conversationId)).filter((s) => s.revoked_at === null).length).toBeLessThanOrEqual(1);
    }
  });
});

describe('who may share and read', () => {
  it('a stranger, a removed member and a reader of a deleted conversation get the same 404 as an unknown id', async () => {
    const { author, colleague, workspaceId, agentId, conversationId } = await team();
    const { shareId } = (await author.post(`/conversations/${conversationId}/share`)).json();
    const stranger = await apiUser(chat.t);
    await setUpChat(chat, { client: stranger });
    await expectGone(stranger, shareId, 'stranger');
    stranger.workspaceId = workspaceId;
    await expectGone(stranger, shareId, 'stranger naming the workspace');

    for (const id of ['A'.repeat(22), 'not-a-share', '../conversations', `${shareId}x`, shareId.slice(1), 'x'.repeat(90), "' or 1=1 --", '%00']) await expectGone(colleague, id, `malformed ${id.slice(0, 20)}`);

    // The platform refuses an oversized path segment before routing, with its own stable code.
    expect((await colleague.get(`/shared/${'x'.repeat(5000)}`)).json().error.code).toBe('uri_too_long');

    // Removed after reading it once (membership cached): out at once.
    const viewer = await join(workspaceId, 'viewer');
    expect((await viewer.get(`/shared/${shareId}`)).statusCode, 'a viewer may read').toBe(200);
    expect((await author.delete(`/workspaces/${workspaceId}/members/${viewer.userId}`)).statusCode).toBe(200);
    await expectGone(viewer, shareId, 'removed member');

    // The conversation deleted (restorable): the link is dead; restored, it works again.
    expect((await author.delete(`/conversations/${conversationId}`)).statusCode).toBe(200);
    await expectGone(colleague, shareId, 'deleted conversation');
    expect((await author.get(`/conversations/${conversationId}/share`)).statusCode).toBe(404);
    expect((await author.post(`/conversations/${conversationId}/restore`)).statusCode).toBe(200);
    expect((await colleague.get(`/shared/${shareId}`)).statusCode).toBe(200);

    // The author removed from the workspace: their shares there end.
    const member = await join(workspaceId);
    const own = (await member.post('/conversations', { agentId })).json().id;
    const memberShare = (await member.post(`/conversations/${own}/share`)).json().shareId;
    expect((await colleague.get(`/shared/${memberShare}`)).statusCode).toBe(200);
    expect((await author.delete(`/workspaces/${workspaceId}/members/${member.userId}`)).statusCode).toBe(200);
    await expectGone(colleague, memberShare, 'author removed');
  });

  it('only the author creates, sees and revokes the share', async () => {
    const { author, colleague, workspaceId, conversationId } = await team();
    const admin = await join(workspaceId, 'admin');
    const stranger = await apiUser(chat.t);
    const { shareId } = (await author.post(`/conversations/${conversationId}/share`)).json();
    for (const [who, client] of [
      ['colleague', colleague],
      ['admin', admin],
      ['stranger', stranger],
    ] as const) {
      for (const response of [await client.post(`/conversations/${conversationId}/share`), await client.get(`/conversations/${conversationId}/share`), await client.delete(`/conversations/${conversationId}/share`)]) {
        expect(response.statusCode, who).toBe(404);
        expect(response.json().error.code).toBe('not_found');
      }
    }
    for (const url of [`/conversations/${randomUUID()}/share`, '/conversations/not-a-uuid/share']) {
      expect((await author.post(url)).statusCode, url).toBe(404);
      expect((await author.get(url)).statusCode, url).toBe(404);
      expect((await author.delete(url)).statusCode, url).toBe(404);
    }
    expect((await colleague.get(`/shared/${shareId}`)).statusCode, 'still shared').toBe(200);
    expect(await shareRows(conversationId)).toHaveLength(1);
  });

  it('needs conversations:write to share or revoke and conversations:read to read', async () => {
    const { author, colleague, conversationId } = await team();
    const { shareId } = (await author.post(`/conversations/${conversationId}/share`)).json();
    const keys = new ApiKeyService(chat.t.database.db, systemClock, chat.t.store);
    const readOnly = (await keys.create(author.userId, { name: 'read only', scopes: ['conversations:read'] })).key;
    const headers = { authorization: `Bearer ${readOnly}`, 'x-workspace-id': author.workspaceId! };
    for (const method of ['POST', 'DELETE'] as const) {
      const response = await chat.t.app.inject({ method, url: `/api/v1/conversations/${conversationId}/share`, headers });
      expect(response.statusCode, method).toBe(403);
      expect(response.json().error.code).toBe('insufficient_scope');
    }
    expect((await chat.t.app.inject({ method: 'GET', url: `/api/v1/conversations/${conversationId}/share`, headers })).statusCode).toBe(200);
    const unrelated = (await keys.create(colleague.userId, { name: 'agents only', scopes: ['agents:read'] })).key;
    const refused = await chat.t.app.inject({ method: 'GET', url: `/api/v1/shared/${shareId}`, headers: { authorization: `Bearer ${unrelated}` } });
    expect(refused.statusCode).toBe(403);
    expect((await chat.t.app.inject({ method: 'GET', url: `/api/v1/shared/${shareId}` })).statusCode).toBe(401);
  });

  it('stores no text in the share and goes with the conversation when it is purged or its author erased', async () => {
    const { author, agentId, conversationId } = await team();
    const { shareId } = (await author.post(`/conversations/${conversationId}/share`)).json();
    const stored = await sql<{ row: string }>`select t::text as row from conversation_shares t where id = ${shareId}`.execute(chat.t.database.db);
    expect(stored.rows[0]!.row).not.toContain('refund');

    // The author's privacy export lists the links with the conversation.
    const archive = unzipSync(await buildExportArchive(chat.t.database.db, chat.t.encryptor, author.userId, new Date()));
    const exported = JSON.parse(strFromU8(archive['conversations.json']!));
    expect(exported.find((c: { id: string }) => c.id === conversationId).shares).toEqual([{ id: shareId, createdAt: expect.any(String), revokedAt: null }]);

    expect((await author.delete(`/conversations/${conversationId}`)).statusCode).toBe(200);
    chat.clock.advance(RESTORE_WINDOW_MS + 1);
    await new DeletedConversationPurge(chat.t.database.db, chat.clock, silentLogger).purge();
    expect(await shareRows(conversationId), 'purged with the conversation').toEqual([]);

    const other = (await author.post('/conversations', { agentId })).json().id;
    expect((await author.post(`/conversations/${other}/share`)).statusCode).toBe(201);
    await chat.t.database.db.deleteFrom('users').where('id', '=', author.userId).execute();
    expect(await shareRows(other), 'erased with its author').toEqual([]);
  });
});
