/** Provider connections: keys encrypted and write-only, tried before saving, the test call, the SSRF guard, the model list for members, safe deletion. */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { tokenFrom } from '../../../test/accounts.js';
import { apiUser } from '../../../test/api-client.js';
import { PROVIDER_KEY, setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { FAKE_MODELS, startFakeLlm } from '../../../test/fake-llm.js';

const chat = useChatApp();

describe('provider connections', () => {
  it('stores the key encrypted, never returns it, and tests the connection', async () => {
    const { client, connectionId } = await setUpChat(chat);
    const view = (await client.get(`/provider-connections/${connectionId}`)).json();
    expect(view).toMatchObject({ kind: 'openai', hasApiKey: true, baseUrl: `${chat.fake.url}/v1` });
    expect(view.apiKeyHint).toMatch(/…/);
    expect(JSON.stringify(await client.get('/provider-connections').then((r) => r.json()))).not.toContain(PROVIDER_KEY);
    const dump = await sql<{ row: string }>`select t::text as row from provider_connections t`.execute(chat.t.database.db);
    expect(dump.rows.map((r) => r.row).join()).not.toContain(PROVIDER_KEY.slice(3, 20));

    const tested = (await client.post(`/provider-connections/${connectionId}/test`)).json();
    expect(tested).toEqual({ ok: true, models: FAKE_MODELS });
    expect(chat.fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);

    chat.fake.enqueue({ kind: 'error', status: 401 });
    const refused = (await client.post(`/provider-connections/${connectionId}/test`)).json();
    expect(refused).toMatchObject({ ok: false, error: { code: 'provider_auth_failed' } });
    expect(JSON.stringify(refused)).not.toContain(PROVIDER_KEY);

    // Key rotation and removal.
    expect((await client.patch(`/provider-connections/${connectionId}`, { apiKey: 'sk-rotated-key-000000000' })).json().apiKeyHint).toMatch(/0000$/);
    await client.post(`/provider-connections/${connectionId}/test`);
    expect(chat.fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-rotated-key-000000000');
    expect((await client.patch(`/provider-connections/${connectionId}`, { apiKey: null })).json()).toMatchObject({ hasApiKey: false, apiKeyHint: null });
  });

  it('refuses private, link-local and metadata addresses that are not allow-listed, naming the host and the setting [ASVS 1.3.6, 13.2.4]', async () => {
    const client = await apiUser(chat.t);
    for (const [baseUrl, host, entry] of [
      ['http://169.254.169.254/latest', '169.254.169.254', '169.254.169.254:80'],
      ['http://10.0.0.1/v1', '10.0.0.1', '10.0.0.1:80'],
      ['http://[::1]:9/v1', '::1', '[::1]:9'],
      ['https://192.168.1.1/v1', '192.168.1.1', '192.168.1.1:443'],
    ]) {
      // Saving tries the connection first: a 422 naming the host and the setting, and nothing saved.
      const refused = await client.post('/provider-connections', { name: 'internal', kind: 'openai', baseUrl, apiKey: 'sk-abcdefghijklmnop' });
      expect(refused.statusCode, baseUrl).toBe(422);
      const { code, message } = refused.json().error;
      expect(code, baseUrl).toBe('provider_blocked');
      expect(message, baseUrl).toContain(`The provider host ${host} is not allowed by the network policy`);
      expect(message, baseUrl).toContain(`To allow it, add ${entry} to OUTBOUND_ALLOW_PRIVATE_PROVIDERS.`);
      expect(message, baseUrl).toMatch(/[^.]\.$/);
      expect(message, baseUrl).not.toContain('..');

      // Saved without the try, the connection test says the same.
      const saved = await client.post('/provider-connections', { name: 'internal', kind: 'openai', baseUrl, apiKey: 'sk-abcdefghijklmnop', skipTest: true });
      expect(saved.statusCode, saved.body).toBe(201);
      expect(saved.json().test).toBeNull();
      const tested = (await client.post(`/provider-connections/${saved.json().id}/test`)).json();
      expect(tested, baseUrl).toMatchObject({ ok: false, error: { code: 'provider_blocked' } });
      expect(tested.error.message, baseUrl).toContain(`The provider host ${host} is not allowed`);
      expect(tested.error.message, baseUrl).toContain(`add ${entry} to OUTBOUND_ALLOW_PRIVATE_PROVIDERS.`);
      expect(tested.error.message, baseUrl).not.toContain('..');
    }
    // A name that does not resolve is unreachable, not blocked.
    const unresolvable = await client.post('/provider-connections', { name: 'nowhere', kind: 'openai', baseUrl: 'http://0x7f000001.nip.invalid/v1' });
    expect(unresolvable.statusCode).toBe(422);
    expect(unresolvable.json().error).toMatchObject({ code: 'provider_unavailable', message: expect.stringContaining('0x7f000001.nip.invalid') });
    expect((await client.get('/provider-connections')).json().connections.map((c: { name: string }) => c.name)).toEqual(['internal', 'internal', 'internal', 'internal']);
  });

  it('tries a connection before saving it and saves nothing when the try fails', async () => {
    const client = await apiUser(chat.t);
    const fields = { name: 'Fake', kind: 'openai', baseUrl: `${chat.fake.url}/v1`, apiKey: PROVIDER_KEY };

    // 401 from the provider: refused, the provider's words shown, the key never.
    chat.fake.enqueue({ kind: 'error', status: 401 });
    const unauthorized = await client.post('/provider-connections', fields);
    expect(unauthorized.statusCode).toBe(422);
    expect(unauthorized.json().error).toMatchObject({ code: 'provider_auth_failed', message: expect.stringContaining('HTTP 401'), details: [{ path: 'apiKey' }] });
    expect(unauthorized.body).not.toContain(PROVIDER_KEY);

    // Nothing listens there: unreachable, naming the host.
    const closed = await startFakeLlm();
    await closed.close();
    const host = new URL(closed.url).host;
    const unreachable = await client.post('/provider-connections', { ...fields, baseUrl: `${closed.url}/v1` });
    expect(unreachable.statusCode).toBe(422);
    expect(unreachable.json().error).toMatchObject({ code: 'provider_unavailable', message: expect.stringContaining(host) });
    expect(unreachable.json().error.message).not.toContain('..');
    expect((await client.get('/provider-connections')).json().connections).toEqual([]);

    // Works: saved, with what the provider listed; the try used the key.
    chat.fake.reset();
    const created = await client.post('/provider-connections', fields);
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'Fake', hasApiKey: true, test: { models: FAKE_MODELS } });
    expect(chat.fake.requests.map((r) => [r.method, r.path])).toEqual([['GET', '/v1/models']]);
    expect(chat.fake.requests[0]!.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    const id = created.json().id;

    // A new base URL is tried too; a failed try leaves the connection as it was.
    const moved = await client.patch(`/provider-connections/${id}`, { baseUrl: `${closed.url}/v1` });
    expect(moved.statusCode).toBe(422);
    expect(moved.json().error.code).toBe('provider_unavailable');
    expect((await client.get(`/provider-connections/${id}`)).json().baseUrl).toBe(`${chat.fake.url}/v1`);
    // The key is tried too (the saved one when only the URL changes, the new one otherwise).
    chat.fake.reset();
    const rekeyed = await client.patch(`/provider-connections/${id}`, { apiKey: 'sk-rotated-key-000000000' });
    expect(rekeyed.json()).toMatchObject({ test: { models: FAKE_MODELS } });
    expect(chat.fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-rotated-key-000000000');
    // A new name reaches nothing: saved without a try.
    chat.fake.reset();
    const renamed = await client.patch(`/provider-connections/${id}`, { name: 'Renamed' });
    expect(renamed.json()).toMatchObject({ name: 'Renamed', test: null });
    expect(chat.fake.requests).toEqual([]);

    // The escape hatch: a provider not up yet is saved when asked, untried.
    const skipped = await client.post('/provider-connections', { ...fields, name: 'Later', baseUrl: `${closed.url}/v1`, skipTest: true });
    expect(skipped.statusCode, skipped.body).toBe(201);
    expect(skipped.json()).toMatchObject({ name: 'Later', test: null });
    expect((await client.patch(`/provider-connections/${id}`, { baseUrl: `${closed.url}/v1`, skipTest: true })).json()).toMatchObject({ baseUrl: `${closed.url}/v1`, test: null });
  });

  it('lets every member list the models (cached briefly, ids only), and no one outside the workspace', async () => {
    const owner = await apiUser(chat.t);
    const workspace = (await owner.post('/workspaces', { name: 'Models' })).json();
    owner.workspaceId = workspace.id;
    const join = async (role: 'member' | 'viewer') => {
      const invitee = await apiUser(chat.t);
      expect((await owner.post(`/workspaces/${workspace.id}/invitations`, { email: invitee.email, role })).statusCode).toBe(201);
      const mail = await chat.sink.next(invitee.email, /invited/);
      expect((await invitee.post('/workspaces/invitations/accept', { token: tokenFrom(mail.text) })).statusCode).toBe(200);
      invitee.workspaceId = workspace.id;
      return invitee;
    };
    const member = await join('member');
    const viewer = await join('viewer');
    const { connectionId: otherConnection } = await setUpChat(chat); // another workspace's connection
    const created = await owner.post('/provider-connections', { name: 'Fake', kind: 'openai', baseUrl: `${chat.fake.url}/v1`, apiKey: PROVIDER_KEY, skipTest: true });
    const id = created.json().id;
    const modelCalls = () => chat.fake.requests.filter((r) => r.path === '/v1/models').length;
    chat.fake.reset();

    // A member lists them: one call to the provider, then the cache.
    const first = await member.get(`/provider-connections/${id}/models`);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({ models: FAKE_MODELS, cached: false });
    expect(first.body).not.toContain(PROVIDER_KEY);
    expect(modelCalls()).toBe(1);
    expect((await member.get(`/provider-connections/${id}/models`)).json()).toEqual({ models: FAKE_MODELS, cached: true });
    expect((await viewer.get(`/provider-connections/${id}/models`)).json()).toEqual({ models: FAKE_MODELS, cached: true });
    expect(modelCalls()).toBe(1);

    // Refresh asks again; a change to the connection drops the cached list; so does time.
    expect((await member.get(`/provider-connections/${id}/models?refresh=true`)).json()).toMatchObject({ cached: false });
    expect(modelCalls()).toBe(2);
    chat.clock.advance(1);
    expect((await owner.patch(`/provider-connections/${id}`, { defaultModel: 'fake-model-2' })).statusCode).toBe(200);
    expect((await member.get(`/provider-connections/${id}/models`)).json()).toMatchObject({ cached: false });
    expect(modelCalls()).toBe(3);
    expect((await member.get(`/provider-connections/${id}/models`)).json()).toMatchObject({ cached: true });
    chat.clock.advance(61_000);
    expect((await member.get(`/provider-connections/${id}/models`)).json()).toMatchObject({ cached: false });
    expect(modelCalls()).toBe(4);

    // A provider failure is a 422 with its code.
    chat.fake.enqueue({ kind: 'error', status: 401 });
    const refused = await member.get(`/provider-connections/${id}/models?refresh=true`);
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error).toMatchObject({ code: 'provider_auth_failed' });

    // Tenancy: another workspace's connection, or this one from outside, is not found.
    expect((await member.get(`/provider-connections/${otherConnection}/models`)).statusCode).toBe(404);
    const stranger = await apiUser(chat.t);
    expect((await stranger.get(`/provider-connections/${id}/models`)).statusCode).toBe(404);
    stranger.workspaceId = workspace.id;
    expect((await stranger.get(`/provider-connections/${id}/models`)).statusCode).toBe(404);
  });

  it('refuses deleting a connection an agent uses, and bad input', async () => {
    const { client, connectionId, agentId } = await setUpChat(chat);
    const refused = await client.delete(`/provider-connections/${connectionId}`);
    expect(refused.statusCode).toBe(409);
    await client.patch(`/agents/${agentId}`, { providerConnectionId: null });
    expect((await client.delete(`/provider-connections/${connectionId}`)).statusCode).toBe(200);
    for (const body of [
      { name: 'x', kind: 'cohere' },
      { name: 'x', kind: 'openai', baseUrl: 'ftp://example.com' },
      { name: 'x', kind: 'openai', baseUrl: `https://${['user', 'pass'].join(':')}@example.com/v1` }, // credentials belong in apiKey
      { name: 'x', kind: 'openai', baseUrl: 'not a url' },
      { name: 'x', kind: 'openai', apiKey: '' },
      { name: 'x', kind: 'openai', credentials: 'x' },
    ]) {
      const response = await client.post('/provider-connections', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await client.get('/provider-connections')).json().connections).toEqual([]);
  });
});
