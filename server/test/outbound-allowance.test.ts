/**
 * Each module reaches private addresses only through its own purpose's allowance, on the
 * real app: every purpose may reach one loopback port of its own, and each module is
 * pointed at a port allowed for another purpose. The refusal names the module's setting
 * and the port's server never sees a connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { useAccountsApp } from './accounts.js';
import { apiUser } from './api-client.js';
import { silentLogger } from './harness.js';
import { setUpChat, type useChatApp } from './chat-fixture.js';
import { startFakeLlm, type FakeLlm } from './fake-llm.js';
import { TestOidcProvider } from './oidc-provider.js';
import { signRequest } from '../src/sdk/sign.js';

const PUBLIC_URL = 'http://127.0.0.1:3000';
const SECRET = 'workspace-oidc-secret-0123456789';
const PURPOSES = ['tools', 'knowledge', 'webhooks'] as const;
type Port = (typeof PURPOSES)[number];

/** One loopback "internal service" per purpose; connections are counted per port. */
const servers = {} as Record<Port, http.Server>;
const ports = {} as Record<Port, number>;
const connections: Record<Port, number> = { tools: 0, knowledge: 0, webhooks: 0 };
const idp = new TestOidcProvider();
let fake: FakeLlm | undefined;
const env: Record<string, string> = { REQUIRE_MFA: 'none', PROVIDER_MAX_RETRIES: '0', PROVIDER_TIMEOUT_MS: '2000' };

beforeAll(async () => {
  for (const purpose of PURPOSES) {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`internal ${purpose} page`));
    });
    server.on('connection', () => connections[purpose]++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers[purpose] = server;
    ports[purpose] = (server.address() as AddressInfo).port;
  }
  fake = await startFakeLlm();
  await idp.start(`${PUBLIC_URL}/api/v1/auth/oidc/callback`, SECRET);
  // Read by the app fixture's beforeAll, which runs after this one.
  Object.assign(env, {
    OUTBOUND_ALLOW_PRIVATE_PROVIDERS: `127.0.0.1:${new URL(fake.url).port}`,
    OUTBOUND_ALLOW_PRIVATE_TOOLS: `127.0.0.1:${ports.tools}`,
    OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE: `127.0.0.1:${ports.knowledge}`,
    OUTBOUND_ALLOW_PRIVATE_WEBHOOKS: `127.0.0.1:${ports.webhooks}`,
    OUTBOUND_ALLOW_PRIVATE_SSO: `127.0.0.1:${new URL(idp.issuer).port}`,
  });
});
afterAll(async () => {
  await fake?.close();
  await idp.stop();
  for (const server of Object.values(servers)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const fixture = useAccountsApp(env);
beforeEach(() => fake?.reset());
// setUpChat's view of the app: the same shape useChatApp returns.
const chat = {
  get t() {
    return fixture.t;
  },
  clock: fixture.clock,
  sink: fixture.sink,
  get fake(): FakeLlm {
    if (!fake) throw new Error('fake LLM not started');
    return fake;
  },
  baseUrl: '',
} satisfies ReturnType<typeof useChatApp>;

const url = (purpose: Port, path = '/page') => `http://127.0.0.1:${ports[purpose]}${path}`;
const hint = (setting: string, purpose: Port) => `To allow it, add 127.0.0.1:${ports[purpose]} to ${setting}.`;

describe('outbound allowances per purpose, through the modules', () => {
  it('fetch_url reaches the tools port only [ASVS 13.2.4]', async () => {
    const { client, conversationId } = await setUpChat(chat, { agent: { tools: ['fetch_url'] } });
    chat.fake.enqueue({ kind: 'tool_call', name: 'fetch_url', arguments: { url: url('tools') } }, { kind: 'tool_call', name: 'fetch_url', arguments: { url: url('knowledge') } }, { kind: 'text', text: 'Done.' });
    const before = connections.knowledge;
    const answer = (await client.post(`/conversations/${conversationId}/messages`, { content: 'Read both' })).json().answer;
    expect(answer.toolCalls.map((call: { ok: boolean }) => call.ok)).toEqual([true, false]);
    const results = chat.fake.requests
      .filter((r) => r.method === 'POST')
      .at(-1)!
      .body.messages.filter((m: { role: string }) => m.role === 'tool');
    expect(results[0].content).toContain('internal tools page');
    expect(results[1].content).toContain(hint('OUTBOUND_ALLOW_PRIVATE_TOOLS', 'knowledge'));
    expect(connections.knowledge).toBe(before);
  });

  it('knowledge URLs reach the knowledge port only', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Internal' })).json().id;
    const fetched = await client.post(`/knowledge-bases/${baseId}/documents`, { url: url('knowledge', '/handbook.txt') });
    expect(fetched.statusCode, fetched.body).toBe(202);
    const before = connections.tools;
    const refused = await client.post(`/knowledge-bases/${baseId}/documents`, { url: url('tools') });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.message).toContain(hint('OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE', 'tools'));
    expect(connections.tools).toBe(before);
  });

  it('provider connections reach the model port only', async () => {
    const client = await apiUser(chat.t);
    const ok = (await client.post('/provider-connections', { name: 'model', kind: 'openai', baseUrl: `${chat.fake.url}/v1`, apiKey: 'sk-abcdefghijklmnop' })).json();
    expect((await client.post(`/provider-connections/${ok.id}/test`)).json()).toMatchObject({ ok: true });
    const before = connections.tools;
    // Saving tests the connection first: refused, and nothing saved.
    const refused = await client.post('/provider-connections', { name: 'internal', kind: 'openai', baseUrl: url('tools', '/v1'), apiKey: 'sk-abcdefghijklmnop' });
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().error).toMatchObject({ code: 'provider_blocked' });
    expect(refused.json().error.message).toContain(hint('OUTBOUND_ALLOW_PRIVATE_PROVIDERS', 'tools'));
    const internal = (await client.post('/provider-connections', { name: 'internal', kind: 'openai', baseUrl: url('tools', '/v1'), apiKey: 'sk-abcdefghijklmnop', skipTest: true })).json();
    const tested = (await client.post(`/provider-connections/${internal.id}/test`)).json();
    expect(tested).toMatchObject({ ok: false, error: { code: 'provider_blocked' } });
    expect(tested.error.message).toContain(hint('OUTBOUND_ALLOW_PRIVATE_PROVIDERS', 'tools'));
    expect(connections.tools).toBe(before);
  });

  it('webhook callbacks reach the webhooks port only [ASVS 13.2.4]', async () => {
    const failures = vi.spyOn(silentLogger, 'warn');
    for (const [target, delivered] of [
      ['webhooks', true],
      ['tools', false],
    ] as const) {
      const { client, agentId } = await setUpChat(chat, { agent: { callbackUrl: url(target, '/callback') } });
      const { secret, url: hookUrl } = (await client.post(`/agents/${agentId}/webhook-secret`, {})).json();
      chat.fake.enqueue({ kind: 'text', text: 'Handled.' });
      const before = connections[target];
      const body = JSON.stringify({ input: 'ping' });
      const accepted = await chat.t.app.inject({
        method: 'POST',
        url: hookUrl,
        headers: { 'content-type': 'application/json', 'bastion-signature': signRequest(secret, { method: 'POST', url: hookUrl, body }, chat.clock.now()) },
        payload: body,
      });
      expect(accepted.statusCode).toBe(202);
      // The run ends with a stored answer; the callback follows it (or is refused).
      const conversationId = accepted.json().conversationId;
      await expect.poll(async () => (await client.get(`/conversations/${conversationId}/messages`)).json().messages?.at(-1)?.status, { timeout: 5_000 }).toBe('complete');
      if (delivered) await expect.poll(() => connections[target], { timeout: 5_000 }).toBe(before + 1);
      else {
        // A refused callback is logged (the run itself succeeded), naming the setting.
        await expect.poll(() => failures.mock.calls.map(([fields]) => String((fields as { err?: Error }).err?.message)).join('\n'), { timeout: 5_000 }).toContain(hint('OUTBOUND_ALLOW_PRIVATE_WEBHOOKS', 'tools'));
        expect(connections[target]).toBe(before);
      }
    }
    failures.mockRestore();
  });

  it('workspace SSO reaches the identity provider port only', async () => {
    const owner = await apiUser(chat.t);
    for (const [issuer, reachable] of [
      [idp.issuer, true],
      [url('tools', ''), false],
    ] as const) {
      const workspace = (await owner.post('/workspaces', { name: 'Federated' })).json();
      const put = await owner.request('PUT', `/workspaces/${workspace.id}/sso`, { issuer, clientId: 'bastion', clientSecret: SECRET, jitProvisioning: false, defaultRole: 'viewer' });
      expect(put.statusCode, put.body).toBe(200);
      const before = connections.tools;
      const started = await chat.t.app.inject({ url: `/api/v1/auth/oidc/start?workspace=${workspace.id}` });
      if (reachable) expect(started.statusCode).toBe(302);
      else {
        expect(String(started.headers.location)).toBe(`${PUBLIC_URL}/sign-in#error=service_unavailable`);
        expect(connections.tools).toBe(before);
      }
    }
  });
});
