import { describe, expect, it } from 'vitest';
import { PASSWORD } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { waitFor } from '../../../test/harness.js';
import { totpAt } from '../auth/totp.js';
import { enrolTotp, fillWorkspace, person, searchDatabase, searchStore } from '../../../test/privacy-fixtures.js';

const DAY = 24 * 60 * 60 * 1000;
// The privacy job runs every second here, on the app's real schedule.
const chat = useChatApp({ REQUIRE_MFA: 'none', PRIVACY_JOB_INTERVAL_SECONDS: '1', ERASURE_GRACE_DAYS: '7' });

async function userExists(id: string): Promise<boolean> {
  return (await chat.t.database.db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

describe('account erasure (GDPR Art. 17)', () => {
  it('erases every trace of the person after the grace period and keeps everyone else’s data', async () => {
    const { t, clock } = chat;
    const alice = await fillWorkspace(t, await person(t, 'alice'), chat.fake.url);
    const bob = await fillWorkspace(t, await person(t, 'bob'), chat.fake.url);
    const secret = await enrolTotp(alice, clock);
    // A failed sign-in: a security event about Alice.
    expect((await new BrowserClient(t.app).post('/auth/login', { email: alice.email, password: 'not her password at all' })).statusCode).toBe(401);
    // A shared workspace Alice owns, with Bob in it: it passes to Bob.
    const shared = await alice.api.post('/workspaces', { name: `Team of ${alice.name}` });
    expect(shared.statusCode, shared.body).toBe(201);
    const sharedId = shared.json().id as string;
    await t.database.db.insertInto('workspace_members').values({ workspace_id: sharedId, user_id: bob.id, role: 'admin', created_at: new Date() }).execute();
    alice.api.workspaceId = sharedId;
    const teamAgent = await alice.api.post('/agents', { name: 'Team helper', model: 'fake-model-1', providerConnectionId: null });
    expect(teamAgent.statusCode, teamAgent.body).toBe(201);
    alice.api.workspaceId = undefined;
    // Invitations naming Alice (in Bob's workspace) and sent by her (to someone else).
    const bobTeam = await bob.api.post('/workspaces', { name: 'Bob team' });
    expect((await bob.api.post(`/workspaces/${bobTeam.json().id}/invitations`, { email: alice.email })).statusCode).toBe(201);
    expect((await alice.api.post(`/workspaces/${sharedId}/invitations`, { email: 'carol@example.org' })).statusCode).toBe(201);
    // A data export: rows, an encrypted archive, a mail.
    expect((await alice.browser.post('/me/export')).statusCode).toBe(202);
    await chat.sink.next(alice.email, /data export is ready/);
    // Another session of Alice's: ended at request time.
    const laptop = new BrowserClient(t.app);
    const first = await laptop.post('/auth/login', { email: alice.email, password: PASSWORD });
    expect(first.json().mfaRequired).toBe(true);
    clock.advance(31_000); // the next TOTP step (a code is accepted once)
    expect((await laptop.post('/auth/login/mfa', { mfaToken: first.json().mfaToken, code: await totpAt(secret, clock.now()) })).statusCode).toBe(200);
    expect((await laptop.get('/me')).statusCode).toBe(200);

    // A conversation she deleted (restorable, not purged yet) goes with her too.
    expect((await alice.api.delete(`/conversations/${alice.conversationId}`)).statusCode).toBe(200);

    const beforeAlice = await searchDatabase(t, [alice.id, alice.email, alice.name, alice.marker]);
    expect(beforeAlice.map((r) => r.where)).toEqual(expect.arrayContaining(['users.email', 'chunks.text', 'agent_versions.config', 'sessions.user_id', 'security_events.user_id', 'data_keys.owner_id', 'workspace_invitations.email']));

    clock.advance(31_000);
    const erase = await alice.browser.request('DELETE', '/me', { password: PASSWORD, code: await totpAt(secret, clock.now()) });
    expect(erase.statusCode, erase.body).toBe(202);
    const scheduledAt = new Date(erase.json().erasureScheduledAt as string);
    expect(scheduledAt.getTime()).toBe(clock.now().getTime() + 7 * DAY);
    await chat.sink.next(alice.email, /will be erased/);
    expect((await laptop.get('/me')).statusCode).toBe(401); // other sessions end at request time
    const me = await alice.browser.get('/me'); // the current one stays, and shows the pending erasure
    expect(me.statusCode).toBe(200);
    expect(me.json().erasureScheduledAt).toBe(scheduledAt.toISOString());

    // Still there a day before the date, even with the job running.
    clock.advance(6 * DAY);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await userExists(alice.id)).toBe(true);

    clock.advance(2 * DAY);
    expect(await waitFor(async () => !(await userExists(alice.id)), 10_000)).toBe(true);

    expect(await searchDatabase(t, [alice.id, alice.email, alice.name, alice.marker])).toEqual([]);
    expect(await searchStore(t, [alice.id, alice.email, alice.name, alice.marker])).toEqual([]);
    const keys = await t.database.db.selectFrom('data_keys').select(['scope', 'owner_id']).execute();
    expect(keys.some((k) => k.owner_id === alice.id)).toBe(false); // crypto-shredded

    // Bob: everything intact and readable; he now owns the team workspace and what Alice made there.
    expect(await searchDatabase(t, [bob.marker])).not.toEqual([]);
    const messages = await bob.api.get(`/conversations/${bob.conversationId}/messages`);
    expect(messages.statusCode).toBe(200);
    expect(JSON.stringify(messages.json())).toContain(bob.marker);
    expect((await bob.api.get(`/knowledge-bases/${bob.baseId}/documents/${bob.documentId}`)).json().status).toBe('ready');
    const members = await bob.api.get(`/workspaces/${sharedId}/members`);
    expect(members.statusCode).toBe(200);
    expect(members.json().members).toEqual([expect.objectContaining({ userId: bob.id, role: 'owner' })]);
    bob.api.workspaceId = sharedId;
    expect((await bob.api.get(`/agents/${teamAgent.json().id}`)).statusCode).toBe(200);
    expect((await bob.api.get('/me')).statusCode).toBe(200); // his credentials still work
  }, 90_000);

  it('refuses without re-authentication, and counts failures toward the lockout [ASVS 7.5.1]', async () => {
    const { t, clock } = chat;
    const p = await person(t, 'dana');
    const missing = await p.browser.request('DELETE', '/me', {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe('validation_failed');
    const extra = await p.browser.request('DELETE', '/me', { password: PASSWORD, admin: true });
    expect(extra.statusCode).toBe(400);
    const wrongType = await p.browser.request('DELETE', '/me', { password: 12345678 });
    expect(wrongType.statusCode).toBe(400);
    const noBody = await p.browser.request('DELETE', '/me');
    expect(noBody.statusCode).toBe(400);
    // An API key cannot delete the account, even with the password.
    const byKey = await p.api.request('DELETE', '/me', { password: PASSWORD });
    expect(byKey.statusCode).toBe(403);
    expect(byKey.json().error.code).toBe('insufficient_scope');
    const wrong = await p.browser.request('DELETE', '/me', { password: 'certainly not the password' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('invalid_credentials');
    for (let i = 0; i < 6; i++) {
      clock.advance(60_000); // past the growing delay between attempts
      await p.browser.request('DELETE', '/me', { password: 'certainly not the password' });
    }
    clock.advance(60_000);
    const locked = await p.browser.request('DELETE', '/me', { password: PASSWORD });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe('account_locked');
    const row = await t.database.db.selectFrom('users').select('erasure_scheduled_at').where('id', '=', p.id).executeTakeFirstOrThrow();
    expect(row.erasure_scheduled_at).toBeNull();
  });

  it('asks for a second factor when two-factor authentication is on', async () => {
    const { t, clock } = chat;
    const p = await person(t, 'erin');
    const secret = await enrolTotp(p, clock);
    const noCode = await p.browser.request('DELETE', '/me', { password: PASSWORD });
    expect(noCode.statusCode).toBe(403);
    expect(noCode.json().error.code).toBe('reauthentication_required');
    const badCode = await p.browser.request('DELETE', '/me', { password: PASSWORD, code: '000000' });
    expect(badCode.statusCode).toBe(401);
    clock.advance(31_000);
    const ok = await p.browser.request('DELETE', '/me', { password: PASSWORD, code: await totpAt(secret, clock.now()) });
    expect(ok.statusCode, ok.body).toBe(202);
  });

  it('can be cancelled during the grace period; signing in shows it pending', async () => {
    const { t, clock } = chat;
    const p = await person(t, 'frank');
    const erase = await p.browser.request('DELETE', '/me', { password: PASSWORD });
    expect(erase.statusCode, erase.body).toBe(202);
    const again = new BrowserClient(t.app);
    const signIn = await again.signIn(p.email, PASSWORD);
    expect(signIn.json().user.erasureScheduledAt).toBe(erase.json().erasureScheduledAt);
    expect((await again.get('/me')).json().erasureScheduledAt).toBe(erase.json().erasureScheduledAt);
    const cancel = await again.post('/me/erasure/cancel');
    expect(cancel.statusCode, cancel.body).toBe(200);
    await chat.sink.next(p.email, /was cancelled/);
    expect((await again.get('/me')).json().erasureScheduledAt).toBeNull();
    expect((await again.post('/me/erasure/cancel')).statusCode).toBe(409);
    clock.advance(8 * DAY);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await userExists(p.id)).toBe(true);
  });
});
