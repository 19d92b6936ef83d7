/** Agents: versioned configuration, immutable history, shared cache invalidated across instances. */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUser, ApiClient } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { buildTestApp, type TestApp } from '../../../test/harness.js';

const chat = useChatApp();
let second: TestApp;

beforeAll(async () => {
  // A second API copy on the same database and store, as behind a load balancer.
  second = await buildTestApp({ database: chat.t.database, store: chat.t.store, env: { REQUIRE_MFA: 'none' } });
});
afterAll(async () => {
  await second.close();
});

describe('agents', () => {
  it('creates versions on every change and keeps the history immutable', async () => {
    const user = await apiUser(chat.t);
    const created = await user.post('/agents', { name: 'Writer', systemPrompt: 'Write well.', tools: ['calculator'] });
    expect(created.statusCode).toBe(201);
    const agent = created.json();
    expect(agent).toMatchObject({ version: 1, config: { name: 'Writer', providerConnectionId: null, temperature: 0.2, tools: ['calculator'], retrieval: { topK: 5 }, limits: { maxSteps: 5 } } });

    const patched = (await user.patch(`/agents/${agent.id}`, { temperature: 0, limits: { maxSteps: 3 } })).json();
    expect(patched).toMatchObject({ version: 2, config: { name: 'Writer', temperature: 0, limits: { maxSteps: 3, maxWallTimeMs: 120_000 } } });
    const versions = (await user.get(`/agents/${agent.id}/versions`)).json().versions;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions[1].config.temperature).toBe(0.2);

    await expect(sql`update agent_versions set config = '{}' where agent_id = ${agent.id}`.execute(chat.t.database.db)).rejects.toThrow(/immutable/);

    const conversation = (await user.post('/conversations', { agentId: agent.id })).json();
    expect(conversation.agentVersion).toBe(2);

    expect((await user.delete(`/agents/${agent.id}`)).statusCode).toBe(200);
    expect((await user.get(`/agents/${agent.id}`)).statusCode).toBe(404);
    expect((await user.get('/agents')).json().agents).toEqual([]);
    expect((await user.get(`/conversations/${conversation.id}`)).statusCode).toBe(200); // history stays readable
    expect((await user.post(`/conversations/${conversation.id}/messages`, { content: 'hi' })).statusCode).toBe(409);
  });

  it('serves the configuration from the shared cache and drops it on change, on every instance', async () => {
    const user = await apiUser(chat.t);
    const onSecond = new ApiClient(second, user.userId, user.email, user.key);
    const agent = (await user.post('/agents', { name: 'Cached' })).json();
    expect((await onSecond.get(`/agents/${agent.id}`)).json().version).toBe(1); // fills the cache
    const cached = await chat.t.store.get(`cache:agent:${agent.id}`);
    expect(cached).toContain('"version":1');
    expect((await user.patch(`/agents/${agent.id}`, { name: 'Renamed' })).statusCode).toBe(200);
    expect(await chat.t.store.get(`cache:agent:${agent.id}`)).toBeNull();
    expect((await onSecond.get(`/agents/${agent.id}`)).json()).toMatchObject({ version: 2, config: { name: 'Renamed' } });
    expect((await user.delete(`/agents/${agent.id}`)).statusCode).toBe(200);
    expect((await onSecond.get(`/agents/${agent.id}`)).statusCode).toBe(404);
  });

  it('refuses hostile or inconsistent configurations with 400 and changes nothing', async () => {
    const user = await apiUser(chat.t);
    const agent = (await user.post('/agents', { name: 'Strict' })).json();
    for (const body of [
      { name: '' },
      { name: 'x', temperature: 3 },
      { name: 'x', tools: ['shell'] },
      { name: 'x', tools: ['calculator', 'calculator'] },
      { name: 'x', limits: { maxSteps: 0 } },
      { name: 'x', limits: { maxSteps: 1000 } },
      { name: 'x', providerConnectionId: '00000000-0000-4000-8000-000000000000' },
      { name: 'x', systemPrompt: 'p'.repeat(20_001) },
      { name: 'x', knowledgeBaseIds: ['not-a-uuid'] },
      { name: 'x', workspaceId: '00000000-0000-4000-8000-000000000000' },
      { name: 'x', __proto__: { admin: true }, constructor: { prototype: { admin: true } } },
    ]) {
      const response = await user.post('/agents', body);
      expect(response.statusCode, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(['validation_failed', 'bad_request', 'invalid_json']).toContain(response.json().error.code);
    }
    for (const body of [{ temperature: -1 }, { tools: ['calculator', 'calculator'] }, { limits: { maxTokens: 0 } }, { version: 7 }]) {
      expect((await user.patch(`/agents/${agent.id}`, body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await user.get('/agents')).json().agents).toHaveLength(1);
    expect((await user.get(`/agents/${agent.id}/versions`)).json().versions).toHaveLength(1);
  });
});

describe('OpenAPI', () => {
  it('documents the workspace, provider, agent and chat endpoints with request examples', async () => {
    const doc = (await chat.t.app.inject({ url: '/api/v1/openapi.json' })).json();
    const body = (path: string, method: string) => doc.paths[path]?.[method]?.requestBody?.content?.['application/json'];
    for (const [path, method] of [
      ['/api/v1/workspaces', 'post'],
      ['/api/v1/provider-connections', 'post'],
      ['/api/v1/agents', 'post'],
      ['/api/v1/agents/{id}', 'patch'],
      ['/api/v1/conversations/{id}/messages', 'post'],
      ['/api/v1/agents/{id}/runs', 'post'],
    ] as const) {
      const media = body(path, method);
      expect(media?.schema, `${method} ${path}`).toBeDefined();
      expect(media.example ?? media.examples, `${method} ${path} example`).toBeTruthy();
    }
    expect(doc.paths['/api/v1/conversations/{id}/messages'].post.description).toContain('text/event-stream');
    expect(doc.paths['/api/v1/agents'].get.security).toEqual([{ sessionCookie: [] }, { bearerAuth: ['agents:read'] }]);
  });
});
