/**
 * Chat tests: the real app listening on loopback, a fake LLM server speaking the
 * OpenAI and Anthropic wire protocols, and helpers to set up a connection, an agent
 * and a conversation through the API.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import type { Env } from '../src/config/index.js';
import { useAccountsApp } from './accounts.js';
import { apiUser, type ApiClient } from './api-client.js';
import { startFakeLlm, type FakeLlm } from './fake-llm.js';

export const PROVIDER_KEY = 'sk-test-provider-key-4f9a2c7e1b';

export function useChatApp(env: Env = {}) {
  const fixture = useAccountsApp({ REQUIRE_MFA: 'none', OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*', PROVIDER_MAX_RETRIES: '2', PROVIDER_TIMEOUT_MS: '1000', ...env });
  let fake: FakeLlm | undefined;
  let baseUrl = '';
  beforeAll(async () => {
    fake = await startFakeLlm();
    await fixture.t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(fixture.t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await fake?.close();
  });
  beforeEach(() => fake?.reset());
  return {
    get t() {
      return fixture.t;
    },
    clock: fixture.clock,
    sink: fixture.sink,
    get fake(): FakeLlm {
      if (!fake) throw new Error('fake LLM not started');
      return fake;
    },
    /** http://127.0.0.1:<port> of the listening app. */
    get baseUrl(): string {
      return baseUrl;
    },
  };
}

export interface ChatSetup {
  client: ApiClient;
  connectionId: string | null;
  agentId: string;
  conversationId: string;
}

/** A user, a connection to the fake (unless `kind` is extractive), an agent and a conversation. */
export async function setUpChat(chat: ReturnType<typeof useChatApp>, options: { kind?: 'openai' | 'anthropic' | 'extractive'; agent?: Record<string, unknown>; client?: ApiClient } = {}): Promise<ChatSetup> {
  const client = options.client ?? (await apiUser(chat.t));
  const kind = options.kind ?? 'openai';
  let connectionId: string | null = null;
  if (kind !== 'extractive') {
    // skipTest: the save's own try would be one more request to the fake (and would consume a
    // queued failure); providers.test.ts covers saving with the try.
    const connection = await client.post('/provider-connections', { name: `fake ${kind}`, kind, baseUrl: kind === 'openai' ? `${chat.fake.url}/v1` : chat.fake.url, apiKey: PROVIDER_KEY, skipTest: true });
    expect(connection.statusCode, connection.body).toBe(201);
    connectionId = connection.json().id;
  }
  const agent = await client.post('/agents', { name: 'Helper', providerConnectionId: connectionId, model: 'fake-model-1', ...options.agent });
  expect(agent.statusCode, agent.body).toBe(201);
  const conversation = await client.post('/conversations', { agentId: agent.json().id });
  expect(conversation.statusCode, conversation.body).toBe(201);
  return { client, connectionId, agentId: agent.json().id, conversationId: conversation.json().id };
}

export interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Parses a complete text/event-stream body. */
export function parseEvents(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      return { event, data: JSON.parse(data) };
    });
}
