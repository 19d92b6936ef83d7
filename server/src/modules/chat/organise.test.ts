/**
 * Organising conversations through the API: rename (sealed like the first title), pin,
 * archive, delete with undo and the purge of expired deletions — only by the owner, with
 * hostile input refused and concurrent changes leaving one consistent state.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { silentLogger } from '../../../test/harness.js';
import { systemClock } from '../../platform/clock.js';
import { ApiKeyService } from '../api-keys/service.js';
import { RESTORE_WINDOW_MS } from './organise.js';
import { DeletedConversationPurge } from './purge.js';

const chat = useChatApp();

async function ask(client: ApiClient, conversationId: string, content: string): Promise<void> {
  chat.fake.enqueue({ kind: 'text', text: `Answer to ${content}` });
  expect((await client.post(`/conversations/${conversationId}/messages`, { content })).statusCode).toBe(201);
}

const listed = async (client: ApiClient, query = ''): Promise<string[]> => (await client.get(`/conversations${query}`)).json().conversations.map((c: { id: string }) => c.id);

/** The stored row, as the database holds it. */
function row(id: string) {
  return chat.t.database.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
}

describe('organising conversations', () => {
  it('renames a conversation, sealing the new title, and the first message does not overwrite it', async () => {
    const { client, conversationId } = await setUpChat(chat);
    const renamed = await client.patch(`/conversations/${conversationId}`, { title: '  Trip to Lisbon — budget  ' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ id: conversationId, title: 'Trip to Lisbon — budget', pinned: false, archived: false });
    await ask(client, conversationId, 'How much is a hotel?');
    expect((await client.get(`/conversations/${conversationId}`)).json().title).toBe('Trip to Lisbon — budget');
    const stored = await sql<{ row: string }>`select t::text as row from conversations t where id = ${conversationId}`.execute(chat.t.database.db);
    expect(stored.rows[0]!.row).not.toContain('Lisbon');

    // Sealed as the first title is: under the workspace's key, bound to this row (it opens nowhere else).
    const sealed = (await row(conversationId))!.title!;
    expect(await chat.t.encryptor.decryptText({ table: 'conversations', column: 'title', rowId: conversationId }, sealed)).toBe('Trip to Lisbon — budget');
    await expect(chat.t.encryptor.decryptText({ table: 'conversations', column: 'title', rowId: randomUUID() }, sealed)).rejects.toThrow();
  });

  it('accepts any printable title up to the limit, in any script', async () => {
    const { client, conversationId } = await setUpChat(chat);
    for (const title of ['Résumé 📄 עברית 日本語', 'x'.repeat(200), '<script>alert(1)</script>', '__proto__']) {
      const response = await client.patch(`/conversations/${conversationId}`, { title });
      expect(response.statusCode, title.slice(0, 20)).toBe(200);
      expect((await client.get(`/conversations/${conversationId}`)).json().title).toBe(title);
    }
  });

  it('pins and archives without moving the conversation in the list, and lists each group on its own', async () => {
    const { client, agentId, conversationId: first } = await setUpChat(chat);
    chat.clock.advance(1_000);
    const second = (await client.post('/conversations', { agentId })).json().id;
    chat.clock.advance(1_000);
    const third = (await client.post('/conversations', { agentId })).json().id;
    const before = (await client.get(`/conversations/${first}`)).json().updatedAt;

    chat.clock.advance(1_000);
    expect((await client.patch(`/conversations/${first}`, { pinned: true })).json()).toMatchObject({ pinned: true, archived: false, updatedAt: before });
    const pinnedAt = (await row(first))!.pinned_at;
    chat.clock.advance(1_000);
    expect((await client.patch(`/conversations/${first}`, { pinned: true })).statusCode).toBe(200);
    expect((await row(first))!.pinned_at, 'pinning again keeps the first time').toEqual(pinnedAt);
    expect((await client.patch(`/conversations/${third}`, { archived: true })).json()).toMatchObject({ archived: true });

    expect(await listed(client)).toEqual([second, first]);
    expect(await listed(client, '?pinned=true')).toEqual([first]);
    expect(await listed(client, '?pinned=false')).toEqual([second]);
    expect(await listed(client, '?archived=true')).toEqual([third]);
    expect((await client.get(`/conversations/${third}`)).json().archived, 'an archived conversation still opens').toBe(true);

    // Several fields change together; unarchiving brings it back.
    expect((await client.patch(`/conversations/${third}`, { archived: false, pinned: true, title: 'Back' })).json()).toMatchObject({ archived: false, pinned: true, title: 'Back' });
    expect((await client.patch(`/conversations/${first}`, { pinned: false })).json().pinned).toBe(false);
    expect(await listed(client, '?pinned=true')).toEqual([third]);
    expect(await listed(client, '?archived=true')).toEqual([]);
  });

  it('deletes with undo: gone from lists and reads at once, restorable within the window, with its messages', async () => {
    const { client, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'Keep this');
    const deleted = await client.delete(`/conversations/${conversationId}`);
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.json()).toEqual({ ok: true, restorableUntil: new Date(chat.clock.now().getTime() + RESTORE_WINDOW_MS).toISOString() });

    expect(await listed(client)).toEqual([]);
    expect(await listed(client, '?archived=true')).toEqual([]);
    for (const response of [
      await client.get(`/conversations/${conversationId}`),
      await client.get(`/conversations/${conversationId}/messages`),
      await client.get(`/conversations/${conversationId}/export`),
      await client.patch(`/conversations/${conversationId}`, { title: 'Still here?' }),
      await client.post(`/conversations/${conversationId}/messages`, { content: 'Hello?' }),
      await client.post(`/conversations/${conversationId}/regenerate`),
      await client.delete(`/conversations/${conversationId}`),
    ]) {
      expect(response.statusCode).toBe(404);
      expect(response.json().error.code).toBe('not_found');
    }
    expect(chat.fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);

    chat.clock.advance(RESTORE_WINDOW_MS - 1_000);
    const restored = await client.post(`/conversations/${conversationId}/restore`);
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json()).toMatchObject({ id: conversationId, title: 'Keep this' });
    expect((await client.post(`/conversations/${conversationId}/restore`)).statusCode, 'a repeated undo answers it as it is').toBe(200);
    expect(await listed(client)).toEqual([conversationId]);
    expect((await client.get(`/conversations/${conversationId}/messages`)).json().messages.map((m: { text: string }) => m.text)).toEqual(['Keep this', 'Answer to Keep this']);
  });

  it('refuses a restore past the window, and the purge deletes the conversation with its messages', async () => {
    const { client, agentId, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'Forget this');
    const recent = (await client.post('/conversations', { agentId })).json().id;
    expect((await client.delete(`/conversations/${conversationId}`)).statusCode).toBe(200);
    chat.clock.advance(RESTORE_WINDOW_MS + 1);
    expect((await client.delete(`/conversations/${recent}`)).statusCode).toBe(200);
    const late = await client.post(`/conversations/${conversationId}/restore`);
    expect(late.statusCode).toBe(404);
    expect(late.json().error.message).toMatch(/too long ago/);

    // The row is still stored until the purge: privacy exports and erasure still see it.
    expect((await row(conversationId))?.deleted_at).toBeInstanceOf(Date);
    // A row the conversation indexer holds at that moment is skipped, and taken by the next run.
    const purge = new DeletedConversationPurge(chat.t.database.db, chat.clock, silentLogger);
    await expect.poll(async () => (await purge.purge(), await row(conversationId)), { timeout: 5_000, interval: 20 }).toBeUndefined();
    const messages = await chat.t.database.db.selectFrom('messages').select('id').where('conversation_id', '=', conversationId).execute();
    expect(messages).toEqual([]);
    expect(await row(recent), 'deleted within the window: kept, restorable').toBeDefined();
    expect((await client.post(`/conversations/${recent}/restore`)).statusCode).toBe(200);
  });

  it('purges while the system runs, in batches, from several processes at once', async () => {
    const { client, agentId, conversationId } = await setUpChat(chat);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await client.post('/conversations', { agentId })).json().id);
    for (const id of ids) expect((await client.delete(`/conversations/${id}`)).statusCode).toBe(200);
    const kept = (await client.post('/conversations', { agentId })).json().id;
    chat.clock.advance(RESTORE_WINDOW_MS + 1);

    const timings = { intervalMs: 20, batch: 2 };
    const processes = [new DeletedConversationPurge(chat.t.database.db, chat.clock, silentLogger, timings), new DeletedConversationPurge(chat.t.database.db, chat.clock, silentLogger, timings)];
    for (const purge of processes) purge.start();
    try {
      await expect.poll(async () => (await chat.t.database.db.selectFrom('conversations').select('id').where('id', 'in', ids).execute()).length, { timeout: 5_000, interval: 20 }).toBe(0);
    } finally {
      await Promise.all(processes.map((p) => p.stop()));
    }
    expect((await listed(client)).sort()).toEqual([conversationId, kept].sort());
  });

  it('keeps one consistent state under concurrent changes', async () => {
    const { client, conversationId } = await setUpChat(chat);
    // Many organising requests at once: every one applies whole, none fails.
    const titles = Array.from({ length: 12 }, (_, i) => `Title ${i}`);
    const answers = await Promise.all(titles.map((title, i) => client.patch(`/conversations/${conversationId}`, { title, pinned: i % 2 === 0 })));
    expect(answers.map((a) => a.statusCode)).toEqual(titles.map(() => 200));
    const final = (await client.get(`/conversations/${conversationId}`)).json();
    expect(titles).toContain(final.title);
    expect(final.pinned).toBe(Number(final.title.split(' ')[1]) % 2 === 0);

    // Parallel deletes: exactly one wins.
    const deletes = await Promise.all(Array.from({ length: 6 }, () => client.delete(`/conversations/${conversationId}`)));
    expect(deletes.map((d) => d.statusCode).sort()).toEqual([200, 404, 404, 404, 404, 404]);

    // Delete and restore racing: both succeed, whichever ran last decides, and every view agrees with it.
    expect((await client.post(`/conversations/${conversationId}/restore`)).statusCode).toBe(200);
    for (let round = 0; round < 8; round++) {
      const [removed, restored] = await Promise.all([client.delete(`/conversations/${conversationId}`), client.post(`/conversations/${conversationId}/restore`)]);
      expect(removed.statusCode).toBe(200);
      expect(restored.statusCode).toBe(200);
      const stored = await row(conversationId);
      const visible = (await client.get(`/conversations/${conversationId}`)).statusCode === 200;
      expect(visible).toBe(stored!.deleted_at === null);
      expect((await listed(client)).includes(conversationId)).toBe(visible);
      if (!visible) expect((await client.post(`/conversations/${conversationId}/restore`)).statusCode).toBe(200);
    }
  });

  it('refuses hostile input with a stable code and a message naming the rule, changing nothing', async () => {
    const { client, conversationId } = await setUpChat(chat);
    expect((await client.patch(`/conversations/${conversationId}`, { title: 'Original' })).statusCode).toBe(200);
    const long = await client.patch(`/conversations/${conversationId}`, { title: 'x'.repeat(201) });
    expect(long.statusCode).toBe(400);
    expect(long.json().error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('at most 200 characters') });
    const huge = await client.patch(`/conversations/${conversationId}`, { title: 'x'.repeat(200_000) });
    expect(huge.statusCode).toBe(400);
    expect(huge.json().error.message).toContain('200');

    const bodies: unknown[] = [
      {},
      { title: '' },
      { title: '   ' },
      { title: 'two\nlines' },
      { title: 'tab\there' },
      { title: 'nul\u0000byte' },
      { title: 'c1\u0085control' },
      { title: 'evil\u202Eexe.txt' },
      { title: 'isolate\u2066x' },
      { title: 'line\u2028separator' },
      { title: 42 },
      { title: null },
      { title: ['a'] },
      { pinned: 'yes' },
      { archived: 1 },
      { title: 'Fine', owner: 'someone-else' },
      { user_id: '00000000-0000-4000-8000-000000000000' },
      { deletedAt: null },
      ['title'],
    ];
    for (const body of bodies) {
      const response = await client.patch(`/conversations/${conversationId}`, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().error.code, JSON.stringify(body)).toBe('validation_failed');
    }
    const control = await client.patch(`/conversations/${conversationId}`, { title: 'a\u0007b' });
    expect(control.json().error.message).toContain('control characters');
    const poisoned = await client.request('PATCH', `/conversations/${conversationId}`, '{"title":"Mine","__proto__":{"pinned":true}}');
    expect(poisoned.statusCode).toBe(400);
    expect(poisoned.json().error.code).toBe('invalid_json');
    const constructor = await client.request('PATCH', `/conversations/${conversationId}`, '{"constructor":{"prototype":{"archived":true}}}');
    expect(constructor.statusCode).toBe(400);

    for (const format of ['html', 'JSON', 'markdown;', '']) {
      const response = await client.get(`/conversations/${conversationId}/export?format=${encodeURIComponent(format)}`);
      expect(response.statusCode, format).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    for (const query of ['?archived=maybe', '?pinned=1']) expect((await client.get(`/conversations${query}`)).statusCode, query).toBe(400);
    for (const url of ['/conversations/not-a-uuid', '/conversations/not-a-uuid/restore', '/conversations/not-a-uuid/export']) {
      const response = url.endsWith('restore') ? await client.post(url) : url.endsWith('export') ? await client.get(url) : await client.patch(url, { title: 'x' });
      expect(response.statusCode, url).toBe(404);
    }
    expect((await client.get(`/conversations/${conversationId}`)).json()).toMatchObject({ title: 'Original', pinned: false, archived: false });
  });
});

describe('who may organise a conversation', () => {
  const attempts = (id: string) => [
    (c: ApiClient) => c.patch(`/conversations/${id}`, { title: 'Taken over' }),
    (c: ApiClient) => c.patch(`/conversations/${id}`, { pinned: true }),
    (c: ApiClient) => c.patch(`/conversations/${id}`, { archived: true }),
    (c: ApiClient) => c.delete(`/conversations/${id}`),
    (c: ApiClient) => c.post(`/conversations/${id}/restore`),
    (c: ApiClient) => c.get(`/conversations/${id}/export?format=markdown`),
    (c: ApiClient) => c.get(`/conversations/${id}/export?format=json`),
  ];

  async function expectRefused(client: ApiClient, id: string, who: string): Promise<void> {
    for (const [n, attempt] of attempts(id).entries()) {
      const response = await attempt(client);
      expect(response.statusCode, `${who}, attempt ${n}`).toBe(404);
      expect(response.json().error.code).toBe('not_found');
    }
  }

  it('only the owner: a colleague in the same workspace, a stranger and a removed member get 404', async () => {
    const owner = await apiUser(chat.t);
    const shared = (await owner.post('/workspaces', { name: 'Team' })).json();
    owner.workspaceId = shared.id;
    const { agentId, conversationId } = await setUpChat(chat, { client: owner });
    await ask(owner, conversationId, 'Owner secret question');
    // Deleted but restorable: still nobody else's to restore.
    const deletedId = (await owner.post('/conversations', { agentId })).json().id;
    expect((await owner.delete(`/conversations/${deletedId}`)).statusCode).toBe(200);

    const colleague = await apiUser(chat.t);
    await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: shared.id, user_id: colleague.userId, role: 'admin', created_at: new Date() }).execute();
    colleague.workspaceId = shared.id;
    const stranger = await apiUser(chat.t);
    await setUpChat(chat, { client: stranger });
    for (const id of [conversationId, deletedId]) {
      await expectRefused(colleague, id, 'colleague');
      await expectRefused(stranger, id, 'stranger');
      stranger.workspaceId = shared.id;
      await expectRefused(stranger, id, 'stranger naming the workspace');
      stranger.workspaceId = undefined;
    }

    // A member removed from the workspace loses their own conversations there too.
    const member = await apiUser(chat.t);
    await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: shared.id, user_id: member.userId, role: 'member', created_at: new Date() }).execute();
    member.workspaceId = shared.id;
    const own = (await member.post('/conversations', { agentId })).json().id;
    expect((await member.patch(`/conversations/${own}`, { title: 'Mine' })).statusCode).toBe(200);
    expect((await owner.delete(`/workspaces/${shared.id}/members/${member.userId}`)).statusCode).toBe(200);
    await expectRefused(member, own, 'removed member');

    // Nothing changed for the owner.
    expect((await owner.get(`/conversations/${conversationId}`)).json()).toMatchObject({ title: 'Owner secret question', pinned: false, archived: false });
    expect((await owner.post(`/conversations/${deletedId}/restore`)).statusCode).toBe(200);
  });

  it('needs the conversations:write scope to change and conversations:read to export', async () => {
    const { client, conversationId } = await setUpChat(chat);
    const { key } = await new ApiKeyService(chat.t.database.db, systemClock, chat.t.store).create(client.userId, { name: 'read only', scopes: ['conversations:read'] });
    const headers = { authorization: `Bearer ${key}` };
    const patch = await chat.t.app.inject({ method: 'PATCH', url: `/api/v1/conversations/${conversationId}`, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify({ pinned: true }) });
    expect(patch.statusCode).toBe(403);
    expect(patch.json().error.code).toBe('insufficient_scope');
    const removed = await chat.t.app.inject({ method: 'DELETE', url: `/api/v1/conversations/${conversationId}`, headers });
    expect(removed.statusCode).toBe(403);
    const exported = await chat.t.app.inject({ method: 'GET', url: `/api/v1/conversations/${conversationId}/export`, headers });
    expect(exported.statusCode).toBe(200);
  });
});
