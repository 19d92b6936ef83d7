/**
 * Picking the model of an answer: the agent's choices (GET /agents/:id/models) for every
 * role that may chat and nobody outside the workspace; a message's `model` used for the
 * provider call, the response cache key and the stored answer when the agent allows it,
 * and refused with 400 model_not_allowed (nothing stored) when it does not.
 */
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { FAKE_MODELS } from '../../../test/fake-llm.js';

const chat = useChatApp();

const chatModels = () => chat.fake.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body.model);
const modelListCalls = () => chat.fake.requests.filter((r) => r.path === '/v1/models').length;

async function joined(owner: ApiClient, workspaceId: string, role: 'admin' | 'member' | 'viewer'): Promise<ApiClient> {
  const user = await apiUser(chat.t);
  await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: workspaceId, user_id: user.userId, role, created_at: new Date() }).execute();
  user.workspaceId = workspaceId;
  return user;
}

async function messageCount(conversationId: string): Promise<number> {
  const row = await chat.t.database.db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('conversation_id', '=', conversationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('picking the model of an answer', () => {
  it('is off by default: the choices say so and a message naming another model is refused before anything is stored', async () => {
    const { client, agentId, conversationId } = await setUpChat(chat);
    const agent = (await client.get(`/agents/${agentId}`)).json();
    expect(agent.config).toMatchObject({ allowModelOverride: false, allowedModels: [] });
    expect((await client.get(`/agents/${agentId}/models`)).json()).toEqual({ defaultModel: 'fake-model-1', allowOverride: false, models: [], cached: true });
    expect(modelListCalls(), 'nothing to ask the provider when picking is off').toBe(0);

    const refused = await client.post(`/conversations/${conversationId}/messages`, { content: 'Hi', model: 'fake-model-2' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.code).toBe('model_not_allowed');
    expect(refused.json().error.message).toContain('allowModelOverride');
    expect(await messageCount(conversationId)).toBe(0);
    expect(chatModels()).toEqual([]);

    // Naming the agent's own model is no override.
    const same = await client.post(`/conversations/${conversationId}/messages`, { content: 'Hi', model: 'fake-model-1' });
    expect(same.statusCode, same.body).toBe(201);
    expect(same.json().answer.model).toBe('fake-model-1');
  });

  it('uses the picked model for the provider call, records it on the answer, and keys the response cache by it', async () => {
    const { client, agentId, conversationId } = await setUpChat(chat, { agent: { allowModelOverride: true, temperature: 0 } });
    const choices = await client.get(`/agents/${agentId}/models`);
    expect(choices.statusCode, choices.body).toBe(200);
    expect(choices.json()).toEqual({ defaultModel: 'fake-model-1', allowOverride: true, models: FAKE_MODELS, cached: false });
    expect((await client.get(`/agents/${agentId}/models`)).json().cached).toBe(true);
    expect((await client.get(`/agents/${agentId}/models?refresh=true`)).json().cached).toBe(false);
    expect(modelListCalls()).toBe(2);

    chat.fake.enqueue({ kind: 'text', text: 'From model two.' });
    const picked = await client.post(`/conversations/${conversationId}/messages`, { content: 'Same question', model: 'fake-model-2' });
    expect(picked.statusCode, picked.body).toBe(201);
    expect(picked.json().answer).toMatchObject({ text: 'From model two.', model: 'fake-model-2' });
    expect(chatModels()).toEqual(['fake-model-2']);
    const stored = await chat.t.database.db.selectFrom('messages').select('model').where('id', '=', picked.json().answer.id).executeTakeFirstOrThrow();
    expect(stored.model).toBe('fake-model-2');

    // The same deterministic question in a fresh conversation with the default model is not served from model two's cache entry.
    const other = (await client.post('/conversations', { agentId })).json().id;
    chat.fake.enqueue({ kind: 'text', text: 'From model one.' });
    const byDefault = await client.post(`/conversations/${other}/messages`, { content: 'Same question' });
    expect(byDefault.json().answer).toMatchObject({ text: 'From model one.', model: 'fake-model-1' });
    expect(chatModels()).toEqual(['fake-model-2', 'fake-model-1']);
    // …while asking model two again is (no provider call).
    const third = (await client.post('/conversations', { agentId })).json().id;
    const cached = await client.post(`/conversations/${third}/messages`, { content: 'Same question', model: 'fake-model-2' });
    expect(cached.json().answer).toMatchObject({ text: 'From model two.', model: 'fake-model-2' });
    expect(chatModels()).toHaveLength(2);

    // The messages list shows which model answered each.
    const messages = (await client.get(`/conversations/${conversationId}/messages`)).json().messages;
    expect(messages.map((m: { role: string; model: string | null }) => [m.role, m.model])).toEqual([
      ['user', null],
      ['assistant', 'fake-model-2'],
    ]);
  });

  it('keeps each answer’s pick to itself when members ask in parallel', async () => {
    const { client, agentId } = await setUpChat(chat, { agent: { allowModelOverride: true } });
    const conversations = await Promise.all(Array.from({ length: 6 }, async () => (await client.post('/conversations', { agentId })).json().id as string));
    const picks = conversations.map((_, i) => (i % 3 === 0 ? undefined : FAKE_MODELS[i % 2]));
    const answers = await Promise.all(conversations.map((id, i) => client.post(`/conversations/${id}/messages`, { content: `Question ${i}`, ...(picks[i] ? { model: picks[i] } : {}) })));
    for (const [i, response] of answers.entries()) {
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json().answer.model, `answer ${i}`).toBe(picks[i] ?? 'fake-model-1');
    }
    // The provider was asked for each model as many times as it was picked (the agent's own for the rest).
    const expected = picks.map((pick) => pick ?? 'fake-model-1').sort();
    expect(chatModels().sort()).toEqual(expected);
    expect((await client.get(`/agents/${agentId}`)).json().config.model, 'the agent itself is unchanged').toBe('fake-model-1');
  });

  it('offers only the agent’s allowedModels when it names some', async () => {
    const { client, agentId, conversationId } = await setUpChat(chat, { agent: { allowModelOverride: true, allowedModels: ['fake-model-2'] } });
    expect((await client.get(`/agents/${agentId}/models`)).json()).toEqual({ defaultModel: 'fake-model-1', allowOverride: true, models: ['fake-model-2'], cached: true });
    const refused = await client.post(`/conversations/${conversationId}/messages`, { content: 'Hi', model: 'other-model' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.code).toBe('model_not_allowed');
    expect(refused.json().error.message).toContain(`/api/v1/agents/${agentId}/models`);
    expect((await client.post(`/conversations/${conversationId}/messages`, { content: 'Hi', model: 'fake-model-2' })).json().answer.model).toBe('fake-model-2');
    // The agent's list itself is validated.
    const duplicate = await client.patch(`/agents/${agentId}`, { allowedModels: ['a', 'a'] });
    expect(duplicate.statusCode).toBe(400);
    expect((await client.patch(`/agents/${agentId}`, { allowedModels: ['x'.repeat(201)] })).statusCode).toBe(400);
  });

  it('refuses hostile model names with a 4xx and stores nothing', async () => {
    const { client, conversationId } = await setUpChat(chat, { agent: { allowModelOverride: true } });
    const cases: [unknown, number, string][] = [
      ['x'.repeat(201), 400, 'validation_failed'],
      ['', 400, 'validation_failed'],
      ['   ', 400, 'validation_failed'],
      [42, 400, 'validation_failed'],
      [['fake-model-2'], 400, 'validation_failed'],
      ['fake-model-2\u200b', 400, 'model_not_allowed'],
      ['ｆａｋｅ-model-2', 400, 'model_not_allowed'],
      ['fake-model-3', 400, 'model_not_allowed'],
      ['../../v1/models', 400, 'model_not_allowed'],
      ['__proto__', 400, 'model_not_allowed'],
    ];
    for (const [model, status, code] of cases) {
      const response = await client.post(`/conversations/${conversationId}/messages`, { content: 'Hi', model });
      expect(response.statusCode, String(model).slice(0, 20)).toBe(status);
      expect(response.json().error.code, String(model).slice(0, 20)).toBe(code);
    }
    expect(await messageCount(conversationId)).toBe(0);
    expect(chatModels()).toEqual([]);
  });

  it('answers every role that may chat, and 404 outside the workspace', async () => {
    const owner = await apiUser(chat.t);
    const workspace = (await owner.post('/workspaces', { name: 'Models' })).json();
    owner.workspaceId = workspace.id;
    const { agentId } = await setUpChat(chat, { client: owner, agent: { allowModelOverride: true } });
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const user = await joined(owner, workspace.id, role);
      const response = await user.get(`/agents/${agentId}/models`);
      expect(response.statusCode, role).toBe(200);
      expect(response.json().models).toEqual(FAKE_MODELS);
    }
    // Another workspace's agent, from inside this workspace or the stranger's own, is not found; so is a made-up id.
    const stranger = await apiUser(chat.t);
    const { agentId: theirs } = await setUpChat(chat, { client: stranger, agent: { allowModelOverride: true } });
    expect((await owner.get(`/agents/${theirs}/models`)).statusCode).toBe(404);
    expect((await stranger.get(`/agents/${agentId}/models`)).statusCode).toBe(404);
    stranger.workspaceId = workspace.id;
    expect((await stranger.get(`/agents/${agentId}/models`)).statusCode).toBe(404);
    expect((await owner.get('/agents/00000000-0000-4000-8000-000000000000/models')).statusCode).toBe(404);
    expect((await owner.get('/agents/not-a-uuid/models')).statusCode).toBe(404);
    // A model of another agent's connection cannot be smuggled into a conversation of someone else.
    const { conversationId: ownerConversation } = await setUpChat(chat, { client: owner, agent: { allowModelOverride: true } });
    stranger.workspaceId = undefined;
    expect((await stranger.post(`/conversations/${ownerConversation}/messages`, { content: 'Hi', model: 'fake-model-2' })).statusCode).toBe(404);
  });
});
