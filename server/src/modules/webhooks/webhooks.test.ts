/** Signed agent webhooks in and out, against a real callback receiver on loopback. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { MemoryStore } from '../../platform/store/memory-store.js';
import { verifyRequestSignature } from '../../http/request-signature.js';
import { signRequest } from '../../sdk/sign.js';

const chat = useChatApp({ OUTBOUND_ALLOW_PRIVATE_WEBHOOKS: '127.0.0.1:*' });
const received: { headers: http.IncomingHttpHeaders; body: string; url: string }[] = [];
let receiver: http.Server;
let callbackUrl = '';

beforeAll(async () => {
  receiver = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body, url: request.url ?? '' });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/bastion/results?source=hook`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
});

function hook(agentId: string, body: string, signature: string | undefined) {
  return chat.t.app.inject({
    method: 'POST',
    url: `/api/v1/hooks/agents/${agentId}`,
    headers: { 'content-type': 'application/json', ...(signature ? { 'bastion-signature': signature } : {}) },
    payload: body,
  });
}

describe('agent webhooks', () => {
  it('runs the agent on a signed call and posts the signed result to the callback URL', async () => {
    const { client, agentId } = await setUpChat(chat, { agent: { callbackUrl } });
    const created = await client.post(`/agents/${agentId}/webhook-secret`, {});
    expect(created.statusCode).toBe(200);
    const { secret, url } = created.json();
    expect(secret).toMatch(/^bst_whsec_/);
    expect(url).toBe(`/api/v1/hooks/agents/${agentId}`);

    chat.fake.enqueue({ kind: 'text', text: 'Ticket triaged.' });
    const body = JSON.stringify({ input: 'New ticket: printer on fire' });
    const accepted = await hook(agentId, body, signRequest(secret, { method: 'POST', url, body }, chat.clock.now()));
    expect(accepted.statusCode).toBe(202);
    const { conversationId } = accepted.json();

    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(1);
    const delivery = received[0]!;
    expect(delivery.url).toBe('/bastion/results?source=hook');
    expect(JSON.parse(delivery.body)).toMatchObject({ event: 'agent.run.completed', agentId, conversationId, answer: { text: 'Ticket triaged.', status: 'complete' } });
    // The receiver verifies Bastion's signature with the same secret and scheme.
    await expect(
      verifyRequestSignature({ method: 'POST', url: delivery.url, body: delivery.body, header: delivery.headers['bastion-signature'] as string }, [secret], new MemoryStore({ maxKeys: 10, sweepIntervalMs: 0 }), chat.clock),
    ).resolves.toBeUndefined();
    const conversation = (await client.get(`/conversations/${conversationId}`)).json();
    expect(conversation.source).toBe('webhook');
  });

  it('refuses unsigned, stale, replayed, altered and wrongly signed calls, and unknown agents alike', async () => {
    const { client, agentId } = await setUpChat(chat);
    const { secret, url } = (await client.post(`/agents/${agentId}/webhook-secret`, {})).json();
    const body = JSON.stringify({ input: 'hello' });
    const good = signRequest(secret, { method: 'POST', url, body }, chat.clock.now());
    const refusals = [
      await hook(agentId, body, undefined),
      await hook(agentId, body, signRequest(secret, { method: 'POST', url, body }, new Date(chat.clock.now().getTime() - 6 * 60_000))),
      await hook(agentId, JSON.stringify({ input: 'hellO' }), good),
      await hook(agentId, body, signRequest('bst_whsec_' + 'A'.repeat(43), { method: 'POST', url, body }, chat.clock.now())),
      await hook('00000000-0000-4000-8000-000000000000', body, good),
    ];
    for (const response of refusals) {
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('unauthenticated');
    }
    expect((await hook(agentId, body, good)).statusCode).toBe(202);
    expect((await hook(agentId, body, good)).statusCode).toBe(401); // replay

    // Rotation: both secrets work during the overlap; disabling removes both.
    const rotated = (await client.post(`/agents/${agentId}/webhook-secret`, { overlapHours: 1 })).json().secret;
    const old = signRequest(secret, { method: 'POST', url, body: '{"input":"again"}' }, chat.clock.now());
    expect((await hook(agentId, '{"input":"again"}', old)).statusCode).toBe(202);
    expect((await hook(agentId, '{"input":"new"}', signRequest(rotated, { method: 'POST', url, body: '{"input":"new"}' }, chat.clock.now()))).statusCode).toBe(202);
    expect((await client.delete(`/agents/${agentId}/webhook-secret`)).statusCode).toBe(200);
    expect((await hook(agentId, '{"input":"gone"}', signRequest(rotated, { method: 'POST', url, body: '{"input":"gone"}' }, chat.clock.now()))).statusCode).toBe(401);
  });

  it('keeps secret management inside the workspace', async () => {
    const { agentId } = await setUpChat(chat);
    const { client: stranger } = await setUpChat(chat);
    expect((await stranger.post(`/agents/${agentId}/webhook-secret`, {})).statusCode).toBe(404);
    expect((await stranger.delete(`/agents/${agentId}/webhook-secret`)).statusCode).toBe(404);
  });
});
