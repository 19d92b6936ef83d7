/**
 * The OpenAI-compatible API driven by the official `openai` client over real HTTP, against
 * the fake LLM: answers (JSON and streamed), the model list, errors the client raises,
 * scopes, tenancy, budgets, disconnects and the audit entry.
 */
import { sql } from 'kysely';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { ApiKeyService } from '../api-keys/service.js';
import { systemClock } from '../../platform/clock.js';
import type { Scope } from '../../principal.js';
import type { ApiClient } from '../../../test/api-client.js';
import { PROVIDER_KEY, setUpChat, useChatApp, type ChatSetup } from '../../../test/chat-fixture.js';
import { tokens } from '../../../test/fake-llm.js';
import { waitFor } from '../../../test/harness.js';
import { CALLER_INSTRUCTIONS_HEADING } from '../chat/completion.js';

const chat = useChatApp();
const chatRequests = () => chat.fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions');

interface Caller extends ChatSetup {
  /** An API key holding `scopes` (agents:invoke by default) and its id. */
  key: string;
  keyId: string;
  openai: OpenAI;
}

async function newKey(client: ApiClient, scopes: Scope[]): Promise<{ key: string; keyId: string }> {
  const { key, row } = await new ApiKeyService(chat.t.database.db, systemClock, chat.t.store).create(client.userId, { name: 'openai tool', scopes });
  return { key, keyId: row.id };
}

function openAi(apiKey: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: `${chat.baseUrl}/v1`, apiKey, maxRetries: 0, defaultHeaders: headers });
}

/** A user with an agent on the fake provider and a key that may only invoke agents. */
async function setUp(options: Parameters<typeof setUpChat>[1] = {}, scopes: Scope[] = ['agents:invoke']): Promise<Caller> {
  const setup = await setUpChat(chat, options);
  const { key, keyId } = await newKey(setup.client, scopes);
  return { ...setup, key, keyId, openai: openAi(key) };
}

interface AuditRow {
  actor_type: string;
  actor_key_id: string | null;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  workspace_id: string | null;
  details: Record<string, unknown>;
}

async function invocations(): Promise<AuditRow[]> {
  const rows = await sql<AuditRow>`select actor_type, actor_key_id, actor_id, target_type, target_id, workspace_id, details from audit_entries where action = 'agent.invoked' order by seq`.execute(chat.t.database.db);
  return rows.rows.map((row) => ({ ...row, details: typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : row.details }));
}

async function count(table: 'conversations' | 'messages'): Promise<number> {
  const rows = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(table)}`.execute(chat.t.database.db);
  return Number(rows.rows[0]!.n);
}

/** Raw POST /v1/chat/completions, for what the client hides (status, headers, [DONE]). */
function post(key: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${chat.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

describe('POST /v1/chat/completions', () => {
  it('answers through the agent, its prompt first, and stores no conversation; audited and counted', async () => {
    const caller = await setUp({ agent: { systemPrompt: 'You are the support agent.' } });
    const before = { conversations: await count('conversations'), messages: await count('messages') };
    chat.fake.enqueue({ kind: 'text', text: 'Refunds take 14 days.' });
    const completion = await caller.openai.chat.completions.create({
      model: caller.agentId,
      messages: [
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi, how can I help?' },
        { role: 'user', content: 'How long do refunds take?' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(completion.model).toBe(caller.agentId);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Refunds take 14 days.' } });
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    expect((completion as unknown as { bastion: unknown }).bastion).toMatchObject({ agentVersion: 1, status: 'complete', citations: [], toolCalls: [] });

    const sent = chatRequests()[0]!.body;
    expect(sent.model).toBe('fake-model-1');
    expect(sent.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    const system: string = sent.messages[0].content;
    expect(system.startsWith('You are the support agent.')).toBe(true);
    expect(system.indexOf(CALLER_INSTRUCTIONS_HEADING)).toBeGreaterThan(system.indexOf('You are the support agent.'));
    expect(system).toContain('Answer in one sentence.');
    expect(sent.messages.at(-1)).toEqual({ role: 'user', content: 'How long do refunds take?' });

    expect({ conversations: await count('conversations'), messages: await count('messages') }).toEqual(before);
    const [entry, ...more] = await invocations();
    expect(more).toHaveLength(0);
    expect(entry).toMatchObject({ actor_type: 'api_key', actor_key_id: caller.keyId, actor_id: caller.client.userId, target_type: 'agent', target_id: caller.agentId });
    expect(entry!.details).toMatchObject({ api: 'openai', stream: false, messages: 4, status: 'complete', usage: { input: completion.usage!.prompt_tokens, output: completion.usage!.completion_tokens } });
    expect(JSON.stringify(entry!.details)).not.toContain('refunds');
    const workspace = (await caller.client.get('/workspaces')).json().workspaces.find((w: { personal: boolean }) => w.personal);
    const usage = (await caller.client.get(`/workspaces/${workspace.id}/usage`)).json();
    expect(usage.outputTokens).toBe(completion.usage!.completion_tokens);
    expect(entry!.workspace_id).toBe(workspace.id);
  });

  it('streams chat.completion.chunks ending in [DONE], with the same text as the JSON answer', async () => {
    const caller = await setUp({ agent: { temperature: 0.3 } });
    const text = 'Paris is the capital of France.';
    chat.fake.enqueue({ kind: 'text', text }, { kind: 'text', text });
    const plain = await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Capital of France?' }] });
    const stream = await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Capital of France?' }], stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === caller.agentId && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    const content = withChoices.map((c) => c.choices[0]!.delta.content ?? '').join('');
    expect(content).toBe(plain.choices[0]!.message.content);
    expect(withChoices.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    const last = withChoices.at(-1)!;
    expect(last.choices[0]).toMatchObject({ finish_reason: 'stop', delta: {} });
    expect((last as unknown as { bastion: { status: string } }).bastion.status).toBe('complete');
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.completion_tokens).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect((await invocations()).map((e) => e.details.stream)).toEqual([false, true]);
  });

  it('sends text/event-stream with data-only frames and a final data: [DONE]', async () => {
    const caller = await setUp();
    chat.fake.enqueue({ kind: 'text', text: 'One two three.' });
    const response = await post(caller.key, { model: caller.agentId, messages: [{ role: 'user', content: 'Count' }], stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('ratelimit-policy')).toMatch(/^"chat";/);
    const body = await response.text();
    expect(body).not.toMatch(/^event:/m);
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    const frames = body.split('\n\n').filter(Boolean);
    expect(frames.every((frame) => frame.startsWith('data: '))).toBe(true);
    expect(frames.filter((frame) => frame.includes('"finish_reason":"stop"'))).toHaveLength(1);
  });

  it('aborts the answer when the client goes away, like the stop button', async () => {
    const caller = await setUp();
    chat.fake.enqueue({ kind: 'text', text: tokens(200), chunkDelayMs: 20 }); // 4 s in full
    const controller = new AbortController();
    const started = Date.now();
    const response = await post(caller.key, { model: caller.agentId, messages: [{ role: 'user', content: 'Talk' }], stream: true }, controller.signal);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    controller.abort();
    await reader.cancel().catch(() => undefined);
    expect(await waitFor(async () => (await invocations()).length === 1, 3_000, 50)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_500);
    expect((await invocations())[0]!.details).toMatchObject({ status: 'incomplete', stopReason: 'disconnected' });
  });

  it('answers with the finish reason length when the caller lowers the output cap and the model stops there', async () => {
    const caller = await setUp({ agent: { maxOutputTokens: 500 } });
    chat.fake.enqueue({ kind: 'text', text: 'Short.' });
    await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 7, max_completion_tokens: 50 });
    expect(chatRequests()[0]!.body.max_tokens ?? chatRequests()[0]!.body.max_completion_tokens).toBe(7);
  });
});

describe('errors through the client', () => {
  it('raises AuthenticationError for a bad key and NotFoundError for an unknown model', async () => {
    const caller = await setUp();
    const bad = openAi('bst_key_not-a-real-key');
    const refused = await bad.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Hi' }] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(refused).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'authentication_error', param: null });
    expect((refused as Error).message).toContain('Invalid, expired or revoked credentials.');

    for (const model of ['gpt-4o', '00000000-0000-4000-8000-000000000000']) {
      const missing = await caller.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).catch((error: unknown) => error);
      expect(missing, model).toBeInstanceOf(OpenAI.NotFoundError);
      expect(missing).toMatchObject({ status: 404, code: 'model_not_found', param: 'model', type: 'invalid_request_error' });
    }
    expect(chatRequests()).toHaveLength(0);
    expect(await invocations()).toHaveLength(0);
  });

  it('answers OpenAI’s error body with the request id, never a stack trace', async () => {
    const caller = await setUp();
    const response = await post(caller.key, { model: 'nope', messages: [{ role: 'user', content: 'Hi' }] });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toEqual({ message: expect.stringContaining('GET /v1/models'), type: 'invalid_request_error', param: 'model', code: 'model_not_found', requestId: response.headers.get('x-request-id') });
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses a key without the agents:invoke scope with 403, and browser sessions with 401', async () => {
    const caller = await setUp({}, ['conversations:write', 'agents:read']);
    const denied = await caller.openai.models.list().catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(denied).toMatchObject({ status: 403, code: 'insufficient_scope', type: 'permission_error' });
    expect((denied as Error).message).toContain('agents:invoke');
    const completion = await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Hi' }] }).catch((error: unknown) => error);
    expect(completion).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(chatRequests()).toHaveLength(0);
  });

  it('answers a provider failure as 502 with the provider’s code, and a failure mid-stream as an error the client raises', async () => {
    const caller = await setUp();
    chat.fake.enqueue({ kind: 'error', status: 401 });
    const failed = await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Hi' }] }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(OpenAI.InternalServerError);
    expect(failed).toMatchObject({ status: 502, code: 'provider_auth_failed', type: 'upstream_error' });
    expect(JSON.stringify(failed)).not.toContain(PROVIDER_KEY);

    chat.fake.enqueue({ kind: 'disconnect', text: 'The answer is cut here and never ends', afterTokens: 3 });
    const stream = await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let seen = '';
    const midway = await (async () => {
      for await (const chunk of stream) seen += chunk.choices[0]?.delta.content ?? '';
    })().catch((error: unknown) => error);
    expect(seen).toBe('The answer is');
    expect(midway).toBeInstanceOf(OpenAI.APIError);
    expect(midway).toMatchObject({ code: expect.stringMatching(/^provider_/) });
    expect((await invocations()).map((e) => e.details.status)).toEqual(['failed', 'incomplete']);
  });

  it('refuses a spent budget with 402 insufficient_quota before calling the provider', async () => {
    const caller = await setUp();
    const workspace = (await caller.client.get('/workspaces')).json().workspaces.find((w: { personal: boolean }) => w.personal);
    expect((await caller.client.patch(`/workspaces/${workspace.id}`, { monthlyTokenBudget: 1 })).statusCode).toBe(200);
    await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Spend it' }] });
    const refused = await caller.openai.chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Again' }] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused).toMatchObject({ status: 402, code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(chatRequests()).toHaveLength(1);
  });
});

describe('GET /v1/models', () => {
  it('lists the agents of every workspace of the caller; X-Workspace-Id narrows it', async () => {
    const caller = await setUp({ agent: { name: 'Personal helper', description: 'Mine' } });
    const team = (await caller.client.post('/workspaces', { name: 'Support team' })).json();
    caller.client.workspaceId = team.id;
    const teamAgent = (await caller.client.post('/agents', { name: 'Support bot', providerConnectionId: null })).json();
    caller.client.workspaceId = undefined;

    const models = [];
    for await (const model of caller.openai.models.list()) models.push(model);
    expect(models.map((m) => m.id).sort()).toEqual([caller.agentId, teamAgent.id].sort());
    const personal = models.find((m) => m.id === caller.agentId)!;
    expect(personal).toMatchObject({ object: 'model', owned_by: 'Personal', name: 'Personal helper', bastion: { description: 'Mine', version: 1 } });
    expect(personal.created).toBeGreaterThan(1_700_000_000);
    expect(models.find((m) => m.id === teamAgent.id)).toMatchObject({ owned_by: 'Support team', bastion: { workspaceId: team.id } });

    const narrowed = await openAi(caller.key, { 'x-workspace-id': team.id }).models.list();
    expect(narrowed.data.map((m) => m.id)).toEqual([teamAgent.id]);
    expect(await caller.openai.models.retrieve(teamAgent.id)).toMatchObject({ id: teamAgent.id, name: 'Support bot' });

    // The team agent answers through its own workspace (extractive provider: no fake call).
    const answer = await caller.openai.chat.completions.create({ model: teamAgent.id, messages: [{ role: 'user', content: 'Anything?' }] });
    expect(answer.choices[0]!.message.content).toBeTruthy();
    expect((await invocations())[0]).toMatchObject({ workspace_id: team.id, target_id: teamAgent.id });
    // …but not when the request names another workspace.
    const elsewhere = await openAi(caller.key, { 'x-workspace-id': team.id })
      .chat.completions.create({ model: caller.agentId, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    expect(elsewhere).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('never shows or runs a stranger’s agent: 404 model_not_found, as for one that does not exist', async () => {
    const owner = await setUp();
    const stranger = await setUp();
    const listed = await stranger.openai.models.list();
    expect(listed.data.map((m) => m.id)).toEqual([stranger.agentId]);
    const retrieved = await stranger.openai.models.retrieve(owner.agentId).catch((error: unknown) => error);
    expect(retrieved).toBeInstanceOf(OpenAI.NotFoundError);
    expect(retrieved).toMatchObject({ code: 'model_not_found' });
    const ran = await stranger.openai.chat.completions.create({ model: owner.agentId, messages: [{ role: 'user', content: 'Hi' }] }).catch((error: unknown) => error);
    expect(ran).toBeInstanceOf(OpenAI.NotFoundError);
    const unknown = await stranger.openai.chat.completions.create({ model: '00000000-0000-4000-8000-000000000000', messages: [{ role: 'user', content: 'Hi' }] }).catch((error: unknown) => error);
    expect((ran as Error).message.replace(owner.agentId, 'ID')).toBe((unknown as Error).message.replace('00000000-0000-4000-8000-000000000000', 'ID'));
    expect(chatRequests()).toHaveLength(0);
  });
});

describe('hostile and unsupported input', () => {
  const cases: [string, (agentId: string) => unknown, number, string | null][] = [
    ['messages not an array', (model) => ({ model, messages: 'hello' }), 400, 'messages'],
    ['no messages', (model) => ({ model, messages: [] }), 400, 'messages'],
    ['content too long', (model) => ({ model, messages: [{ role: 'user', content: 'x'.repeat(32_001) }] }), 400, 'messages[0].content'],
    ['too many messages', (model) => ({ model, messages: Array.from({ length: 257 }, () => ({ role: 'user', content: 'hi' })) }), 400, 'messages'],
    [
      'a tool message',
      (model) => ({
        model,
        messages: [
          { role: 'tool', content: '{}', tool_call_id: 'x' },
          { role: 'user', content: 'hi' },
        ],
      }),
      400,
      'messages[0].role',
    ],
    ['an unknown role', (model) => ({ model, messages: [{ role: 'root', content: 'hi' }] }), 400, 'messages[0].role'],
    [
      'an assistant last',
      (model) => ({
        model,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'ho' },
        ],
      }),
      400,
      'messages',
    ],
    [
      'an image part',
      (model) => ({
        model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'see' },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            ],
          },
        ],
      }),
      400,
      'messages[0].content[1].type',
    ],
    ['n = 2', (model) => ({ model, n: 2, messages: [{ role: 'user', content: 'hi' }] }), 400, 'n'],
    ['caller tools', (model) => ({ model, tools: [{ type: 'function', function: { name: 'f' } }], messages: [{ role: 'user', content: 'hi' }] }), 400, 'tools'],
    ['a JSON response format', (model) => ({ model, response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'hi' }] }), 400, 'response_format'],
    ['a model that is not a string', () => ({ model: { $ne: null }, messages: [{ role: 'user', content: 'hi' }] }), 400, 'model'],
    ['__proto__', (model) => `{"model":"${String(model)}","messages":[{"role":"user","content":"hi","__proto__":{"isAdmin":true}}]}`, 400, null],
    ['constructor.prototype', (model) => `{"model":"${String(model)}","constructor":{"prototype":{"isAdmin":true}},"messages":[{"role":"user","content":"hi"}]}`, 400, null],
    ['not JSON', () => '{"model":', 400, null],
    ['a body over the limit', (model) => ({ model, messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] }), 413, null],
  ];

  it.each(cases)('refuses %s in OpenAI’s error shape', async (_name, body, status, param) => {
    const caller = await setUp();
    const response = await post(caller.key, body(caller.agentId));
    expect(response.status).toBe(status);
    const answer = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    expect(answer.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(answer.error.message.length).toBeGreaterThan(10);
    expect(chatRequests()).toHaveLength(0);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('ignores harmless OpenAI parameters the agent’s configuration decides', async () => {
    const caller = await setUp();
    const completion = await caller.openai.chat.completions.create({
      model: caller.agentId,
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      ],
      temperature: 1.7,
      top_p: 0.5,
      stop: ['\n'],
      seed: 7,
      user: 'someone',
      n: 1,
      presence_penalty: 0.5,
    });
    expect(completion.choices[0]!.message.content).toBe('Hello from the fake model.');
    const sent = chatRequests()[0]!.body;
    expect(sent.temperature).toBe(0.2); // the agent's
    expect(sent.seed).toBeUndefined();
    expect(sent.messages[0].content).toContain('Be brief.');
  });
});

describe('the /v1 boundary', () => {
  it('answers unknown /v1 paths in OpenAI’s shape, with the API’s security headers and no SPA fallback', async () => {
    const response = await fetch(`${chat.baseUrl}/v1/embeddings`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('takes no browser session: a cookie alone is refused with 401', async () => {
    const caller = await setUp();
    const browser = await chat.t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: caller.client.email, password: 'violet tractor sings at dawn' } });
    const cookie = browser.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    expect(cookie).toContain('session');
    const models = await chat.t.app.inject({ url: '/v1/models', headers: { cookie } });
    expect(models.statusCode).toBe(401);
    expect(models.json().error).toMatchObject({ code: 'invalid_api_key' });
    // A cross-site POST carrying the cookie is refused before it could act.
    const forged = await chat.t.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, payload: { model: caller.agentId, messages: [] } });
    expect(forged.statusCode).toBe(403);
  });
});

describe('rate limits', () => {
  const limited = useChatApp({ RATE_LIMIT_SCALE: '0.05' }); // chat: 3 a minute

  it('refuses requests over the chat limit with 429, Retry-After and RateLimitError', async () => {
    const setup = await setUpChat(limited);
    const { key } = await new ApiKeyService(limited.t.database.db, systemClock, limited.t.store).create(setup.client.userId, { name: 'tool', scopes: ['agents:invoke'] });
    const client = new OpenAI({ baseURL: `${limited.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.chat.completions
          .create({ model: setup.agentId, messages: [{ role: 'user', content: 'Hi' }] })
          .then(() => 'ok' as const)
          .catch((error: unknown) => error),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    const refused = results.filter((r) => r !== 'ok');
    expect(refused).toHaveLength(5);
    for (const error of refused) {
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error' });
      expect(Number((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The UI's chat shares the budget: the same user's conversation is limited too.
    expect((await setup.client.post(`/conversations/${setup.conversationId}/messages`, { content: 'Hi' })).statusCode).toBe(429);
  });
});
