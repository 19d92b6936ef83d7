import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { PASSWORD, tokenFrom } from '../../../test/accounts.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { waitFor } from '../../../test/harness.js';
import { multipart } from '../../../test/uploads.js';
import { fillWorkspace, person } from '../../../test/privacy-fixtures.js';

const chat = useChatApp({ REQUIRE_MFA: 'none', PRIVACY_JOB_INTERVAL_SECONDS: '0' });

async function readyExport(p: Awaited<ReturnType<typeof person>>): Promise<{ id: string; token: string }> {
  const started = await p.browser.post('/me/export');
  expect(started.statusCode, started.body).toBe(202);
  const id = started.json().id as string;
  const mail = await chat.sink.next(p.email, /data export is ready/);
  const token = tokenFrom(mail.text);
  expect(mail.text).toContain(`id=${id}`);
  expect(await waitFor(async () => (await p.browser.get('/me/exports')).json().exports[0].status === 'ready', 5_000)).toBe(true);
  return { id, token };
}

describe('data export (GDPR Art. 15/20)', () => {
  it('builds a ZIP of everything about the user, with the originals, and nothing personal of others [ASVS 5.4.1]', async () => {
    const { t } = chat;
    const alice = await fillWorkspace(t, await person(t, 'alice'), chat.fake.url);
    const bob = await fillWorkspace(t, await person(t, 'bob'), chat.fake.url);
    // A shared workspace Alice owns, where Bob works too: his conversation and upload stay his.
    const shared = await alice.api.post('/workspaces', { name: 'Shared' });
    const sharedId = shared.json().id as string;
    await t.database.db.insertInto('workspace_members').values({ workspace_id: sharedId, user_id: bob.id, role: 'admin', created_at: new Date() }).execute();
    bob.api.workspaceId = sharedId;
    const bobAgent = await bob.api.post('/agents', { name: `Bob agent ${bob.marker}`, model: 'fake-model-1', providerConnectionId: null });
    expect(bobAgent.statusCode, bobAgent.body).toBe(201);
    const bobConversation = await bob.api.post('/conversations', { agentId: bobAgent.json().id });
    await bob.api.post(`/conversations/${bobConversation.json().id}/messages`, { content: `Secret of Bob ${bob.marker}` });
    const bobBase = await bob.api.post('/knowledge-bases', { name: `Bob base ${bob.marker}` });
    const upload = multipart('bob.md', `# ${bob.name}\n\n${bob.marker}\n`, 'text/markdown');
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${bobBase.json().id}/documents`, headers: { ...bob.api.headers(), ...upload.headers }, payload: upload.payload })).statusCode).toBe(202);

    // Deleted a moment ago (restorable, not purged yet): still stored, so still exported.
    expect((await alice.api.delete(`/conversations/${alice.conversationId}`)).statusCode).toBe(200);

    const { id, token } = await readyExport(alice);
    const stored = await t.database.db.selectFrom('data_exports').select(['archive', 'token_hash']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(Buffer.from(stored.archive!).includes(Buffer.from('profile.json'))).toBe(false); // encrypted at rest
    expect(stored.token_hash).not.toContain(token);

    const download = await alice.browser.post(`/me/exports/${id}/download`, { token });
    expect(download.statusCode, download.body).toBe(200);
    expect(download.headers['content-type']).toBe('application/zip');
    expect(download.headers['content-disposition']).toMatch(/^attachment; filename="bastion-export-/);
    const files = unzipSync(new Uint8Array(download.rawPayload));
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['README.txt', 'profile.json', 'sessions.json', 'security-events.json', 'workspaces.json', 'agents.json', 'conversations.json', 'knowledge.json', 'consents.json']));
    const profile = JSON.parse(strFromU8(files['profile.json']!));
    expect(profile).toMatchObject({ id: alice.id, email: alice.email, name: alice.name });
    expect(JSON.stringify(profile)).not.toMatch(/argon2|passwordHash|totpSecret/i); // no credential material
    const conversations = JSON.parse(strFromU8(files['conversations.json']!));
    expect(JSON.stringify(conversations)).toContain(alice.marker); // messages decrypted
    expect(conversations.find((c: { id: string }) => c.id === alice.conversationId)).toMatchObject({ deletedAt: expect.any(String), pinnedAt: null, archivedAt: null });
    const original = Object.keys(files).find((name) => name.startsWith(`uploads/${alice.documentId}/`));
    expect(original).toBeDefined();
    expect(strFromU8(files[original!]!)).toContain(`The code word is ${alice.marker}`);
    expect(JSON.parse(strFromU8(files['consents.json']!)).consents).toEqual([expect.objectContaining({ purpose: 'product_analytics', granted: true })]);
    expect(JSON.parse(strFromU8(files['workspaces.json']!))).toEqual(expect.arrayContaining([expect.objectContaining({ id: sharedId, role: 'owner' })]));

    // Nothing personal of Bob's, although he works in Alice's workspace.
    const everything = Object.values(files)
      .map((bytes) => Buffer.from(bytes).toString('latin1'))
      .join('\n');
    for (const needle of [bob.id, bob.email, bob.name, bob.marker]) expect(everything).not.toContain(needle);

    // Once only.
    const again = await alice.browser.post(`/me/exports/${id}/download`, { token });
    expect(again.statusCode).toBe(410);
    expect(again.json().error.code).toBe('export_expired');
    const row = await t.database.db.selectFrom('data_exports').select(['archive', 'status']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ archive: null, status: 'downloaded' });
  }, 60_000);

  it('refuses a second export within the hour, other users’ exports, wrong tokens and late downloads', async () => {
    const { t, clock } = chat;
    const alice = await person(t, 'alice');
    const mallory = await person(t, 'mallory');
    const { id, token } = await readyExport(alice);

    const soon = await alice.browser.post('/me/export');
    expect(soon.statusCode).toBe(429);
    expect(soon.json().error.code).toBe('rate_limited');
    expect(Number(soon.headers['retry-after'])).toBeGreaterThan(3_000);

    // Another user's export id (even with the right token) is 404; so is a wrong token.
    const stolen = await mallory.browser.post(`/me/exports/${id}/download`, { token });
    expect(stolen.statusCode).toBe(404);
    expect(stolen.json().error.code).toBe('not_found');
    expect((await mallory.browser.get('/me/exports')).json().exports).toEqual([]);
    expect((await alice.browser.post(`/me/exports/${id}/download`, { token: `${token.slice(0, -2)}xx` })).statusCode).toBe(404);
    expect((await alice.browser.post('/me/exports/00000000-0000-4000-8000-000000000000/download', { token })).statusCode).toBe(404);
    // Hostile bodies.
    expect((await alice.browser.post(`/me/exports/${id}/download`, {})).statusCode).toBe(400);
    expect((await alice.browser.post(`/me/exports/${id}/download`, { token, extra: 1 })).statusCode).toBe(400);
    expect((await alice.browser.post(`/me/exports/${id}/download`, { token: 42 })).statusCode).toBe(400);
    expect((await alice.browser.post('/me/exports/not-a-uuid/download', { token })).statusCode).toBe(404); // a malformed id names nothing
    // Not with an API key, even the owner's.
    expect((await alice.api.post(`/me/exports/${id}/download`, { token })).statusCode).toBe(403);
    expect((await alice.api.post('/me/export')).statusCode).toBe(403);

    // After 24 hours the link is dead.
    clock.advance(24 * 60 * 60 * 1000 + 1);
    expect((await alice.browser.signIn(alice.email, PASSWORD)).statusCode).toBe(200); // the old session timed out
    const late = await alice.browser.post(`/me/exports/${id}/download`, { token });
    expect(late.statusCode).toBe(410);
    expect((await alice.browser.get('/me/exports')).json().exports[0].status).toBe('expired');
    // An hour has passed: a new export is allowed.
    expect((await alice.browser.post('/me/export')).statusCode).toBe(202);
  }, 30_000);
});
