/**
 * Per-member usage (GET /workspaces/:id/usage/members): exact figures for the calendar
 * month (UTC) with its boundaries, former members still listed, another workspace's
 * answers never counted, and only owners and admins let in.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';

const chat = useChatApp();

async function joined(workspaceId: string, role: 'admin' | 'member' | 'viewer', name?: string): Promise<ApiClient> {
  const user = await apiUser(chat.t);
  if (name) await chat.t.database.db.updateTable('users').set({ name }).where('id', '=', user.userId).execute();
  await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: workspaceId, user_id: user.userId, role, created_at: new Date() }).execute();
  user.workspaceId = workspaceId;
  return user;
}

async function ask(client: ApiClient, conversationId: string, input: number, output: number): Promise<void> {
  chat.fake.enqueue({ kind: 'text', text: 'Answer.', usage: { input, output } });
  const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'Question' });
  expect(response.statusCode, response.body).toBe(201);
  expect(response.json().answer.usage).toEqual({ inputTokens: input, outputTokens: output });
}

/** An answer stored at `at`, as if given then (its content is never read here). */
async function seedAnswer(workspaceId: string, conversationId: string, at: Date, input: number, output: number): Promise<void> {
  await chat.t.database.db
    .insertInto('messages')
    .values({
      id: randomUUID(),
      conversation_id: conversationId,
      workspace_id: workspaceId,
      role: 'assistant',
      content: Buffer.from('sealed'),
      status: 'complete',
      stop_reason: 'stop',
      agent_version: 1,
      model: 'fake-model-1',
      input_tokens: input,
      output_tokens: output,
      lease_owner: null,
      created_at: at,
      updated_at: at,
    })
    .execute();
}

describe('usage per member', () => {
  it('counts each member’s answers and tokens of this month exactly, most tokens first, former members included', async () => {
    chat.clock.set(new Date('2027-05-20T12:00:00Z'));
    const owner = await apiUser(chat.t);
    const workspace = (await owner.post('/workspaces', { name: 'Usage' })).json();
    owner.workspaceId = workspace.id;
    const { agentId, conversationId: ownerConversation } = await setUpChat(chat, { client: owner });
    const member = await joined(workspace.id, 'member', 'Mia Member');
    const leaver = await joined(workspace.id, 'member', 'Lee Leaver');
    await joined(workspace.id, 'viewer'); // no answers: not listed
    const memberConversation = (await member.post('/conversations', { agentId })).json().id;
    const leaverConversation = (await leaver.post('/conversations', { agentId })).json().id;

    await ask(owner, ownerConversation, 3, 2);
    await ask(member, memberConversation, 10, 5);
    await ask(member, memberConversation, 20, 7);
    await ask(leaver, leaverConversation, 100, 1);
    // A regenerated answer spent tokens too: both count.
    chat.fake.enqueue({ kind: 'text', text: 'Again.', usage: { input: 4, output: 4 } });
    expect((await member.post(`/conversations/${memberConversation}/regenerate`)).statusCode).toBe(201);
    // The month's first instant counts; the last instant of the month before and the next month do not.
    await seedAnswer(workspace.id, memberConversation, new Date('2027-05-01T00:00:00.000Z'), 1, 1);
    await seedAnswer(workspace.id, memberConversation, new Date('2027-04-30T23:59:59.999Z'), 1_000, 1_000);
    await seedAnswer(workspace.id, memberConversation, new Date('2027-06-01T00:00:00.000Z'), 1_000, 1_000);
    // The member's answers in another workspace (their personal one) are not this workspace's.
    member.workspaceId = undefined;
    const elsewhere = await setUpChat(chat, { client: member });
    await ask(member, elsewhere.conversationId, 500, 500);
    member.workspaceId = workspace.id;
    expect((await owner.delete(`/workspaces/${workspace.id}/members/${leaver.userId}`)).statusCode).toBe(200);

    const response = await owner.get(`/workspaces/${workspace.id}/usage/members`);
    expect(response.statusCode, response.body).toBe(200);
    const ownerName = (await chat.t.database.db.selectFrom('users').select('name').where('id', '=', owner.userId).executeTakeFirstOrThrow()).name;
    expect(response.json()).toEqual({
      period: '2027-05-01',
      members: [
        { userId: leaver.userId, name: 'Lee Leaver', email: leaver.email, role: null, answers: 1, inputTokens: 100, outputTokens: 1 },
        { userId: member.userId, name: 'Mia Member', email: member.email, role: 'member', answers: 4, inputTokens: 35, outputTokens: 17 },
        { userId: owner.userId, name: ownerName, email: owner.email, role: 'owner', answers: 1, inputTokens: 3, outputTokens: 2 },
      ],
    });

    // Next month starts from nothing.
    chat.clock.set(new Date('2027-06-02T00:00:00Z'));
    expect((await owner.get(`/workspaces/${workspace.id}/usage/members`)).json()).toEqual({
      period: '2027-06-01',
      members: [{ userId: member.userId, name: 'Mia Member', email: member.email, role: 'member', answers: 1, inputTokens: 1_000, outputTokens: 1_000 }],
    });
  });

  it('lets owners and admins in; members and viewers get 403, anyone outside 404', async () => {
    const owner = await apiUser(chat.t);
    const workspace = (await owner.post('/workspaces', { name: 'Private' })).json();
    owner.workspaceId = workspace.id;
    const { conversationId } = await setUpChat(chat, { client: owner });
    await ask(owner, conversationId, 1, 1);
    const url = `/workspaces/${workspace.id}/usage/members`;
    expect((await owner.get(url)).statusCode).toBe(200);
    expect((await (await joined(workspace.id, 'admin')).get(url)).statusCode).toBe(200);
    for (const role of ['member', 'viewer'] as const) {
      const refused = await (await joined(workspace.id, role)).get(url);
      expect(refused.statusCode, role).toBe(403);
      expect(refused.json().error.code).toBe('forbidden');
      expect(refused.body).not.toContain(owner.email);
    }
    // Outside: the same 404 as a workspace that does not exist; a malformed id names nothing.
    const stranger = await apiUser(chat.t);
    const foreign = await stranger.get(url);
    expect(foreign.statusCode).toBe(404);
    const missing = await stranger.get(`/workspaces/${randomUUID()}/usage/members`);
    expect([missing.statusCode, missing.json().error.code, missing.json().error.message]).toEqual([404, foreign.json().error.code, foreign.json().error.message]);
    expect((await owner.get('/workspaces/not-a-uuid/usage/members')).statusCode).toBe(404);
    // The stranger's own workspace shows only the stranger's usage: none of this one.
    const theirs = (await stranger.get('/workspaces')).json().workspaces[0].id;
    expect((await stranger.get(`/workspaces/${theirs}/usage/members`)).json().members).toEqual([]);
  });
});
