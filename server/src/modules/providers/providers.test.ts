/** Provider connections: keys encrypted and write-only, the test call, the SSRF guard, safe deletion. */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { PROVIDER_KEY, setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { FAKE_MODELS } from '../../../test/fake-llm.js';

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

  it('refuses private, link-local and metadata addresses that are not allow-listed', async () => {
    const client = await apiUser(chat.t);
    for (const baseUrl of ['http://169.254.169.254/latest', 'http://10.0.0.1/v1', 'http://[::1]:9/v1', 'http://192.168.1.1/v1', 'http://0x7f000001.nip.invalid/v1']) {
      const connection = (await client.post('/provider-connections', { name: 'internal', kind: 'openai', baseUrl, apiKey: 'sk-abcdefghijklmnop' })).json();
      const tested = (await client.post(`/provider-connections/${connection.id}/test`)).json();
      expect(tested.ok, baseUrl).toBe(false);
      expect(['provider_blocked', 'provider_unavailable'], baseUrl).toContain(tested.error.code);
      if (!baseUrl.includes('invalid')) expect(tested.error.code, baseUrl).toBe('provider_blocked');
    }
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
