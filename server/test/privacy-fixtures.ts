/**
 * Test fixtures for the privacy tests: people with data in every corner of Bastion, and
 * searches of every table and of the store for anything left of them.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { ApiClient } from './api-client.js';
import { createUser, PASSWORD } from './accounts.js';
import { BrowserClient } from './browser-client.js';
import { waitFor, TEST_REDIS_URL, type TestApp } from './harness.js';
import { multipart } from './uploads.js';
import { SCOPES } from '../src/principal.js';
import { systemClock, type Clock } from '../src/platform/clock.js';
import { ApiKeyService } from '../src/modules/api-keys/service.js';
import { totpAt } from '../src/modules/auth/totp.js';
import { MemoryStore } from '../src/platform/store/memory-store.js';
import { RedisStore } from '../src/platform/store/redis-store.js';

export interface Person {
  id: string;
  email: string;
  name: string;
  /** A string placed in their agents, documents and messages, and nowhere else. */
  marker: string;
  api: ApiClient;
  browser: BrowserClient;
  totpSecret?: string;
  agentId: string;
  conversationId: string;
  baseId: string;
  documentId: string;
}

const tag = () => randomBytes(5).toString('hex');

/** A person with a browser session and a full-scope API key. */
export async function person(t: TestApp, label: string): Promise<Omit<Person, 'agentId' | 'conversationId' | 'baseId' | 'documentId'>> {
  const suffix = tag();
  const email = `${label}-${suffix}@example.org`;
  const name = `${label[0]!.toUpperCase()}${label.slice(1)} Quillfeather${suffix}`;
  const id = await createUser(t.database, { email, name });
  const { key } = await new ApiKeyService(t.database.db, systemClock, t.store).create(id, { name: 'privacy test', scopes: [...SCOPES] });
  const browser = new BrowserClient(t.app);
  expect((await browser.signIn(email, PASSWORD)).statusCode).toBe(200);
  return { id, email, name, marker: `MARKER${suffix}ZZ`, api: new ApiClient(t, id, email, key), browser };
}

/** Turns on TOTP for the person's browser session; returns the secret. */
export async function enrolTotp(p: { browser: BrowserClient }, clock: Clock): Promise<string> {
  const setup = await p.browser.post('/auth/mfa/totp/setup');
  expect(setup.statusCode, setup.body).toBe(200);
  const secret = setup.json().secret as string;
  const confirm = await p.browser.post('/auth/mfa/totp/confirm', { code: await totpAt(secret, clock.now()) });
  expect(confirm.statusCode, confirm.body).toBe(200);
  await p.browser.loadCsrf();
  return secret;
}

/**
 * Fills the person's personal workspace: a provider connection to the fake LLM, an agent,
 * a conversation with an exchange, a knowledge base with an ingested document, consents.
 */
export async function fillWorkspace(t: TestApp, p: Awaited<ReturnType<typeof person>>, fakeUrl: string): Promise<Person> {
  const { api, marker } = p;
  const connection = await api.post('/provider-connections', { name: `fake ${marker}`, kind: 'openai', baseUrl: `${fakeUrl}/v1`, apiKey: 'sk-test-provider-key-4f9a2c7e1b' });
  expect(connection.statusCode, connection.body).toBe(201);
  const agent = await api.post('/agents', { name: `Agent ${marker}`, providerConnectionId: connection.json().id, model: 'fake-model-1', systemPrompt: `You help ${p.name} (${marker}).` });
  expect(agent.statusCode, agent.body).toBe(201);
  const conversation = await api.post('/conversations', { agentId: agent.json().id });
  expect(conversation.statusCode, conversation.body).toBe(201);
  const sent = await api.post(`/conversations/${conversation.json().id}/messages`, { content: `Remember ${marker} for ${p.name} at ${p.email}` });
  expect(sent.statusCode, sent.body).toBe(201);
  const base = await api.post('/knowledge-bases', { name: `Notes ${marker}`, description: `Kept by ${p.name}` });
  expect(base.statusCode, base.body).toBe(201);
  const upload = multipart(`notes-${marker}.md`, `# Notes of ${p.name}\n\nThe code word is ${marker}. Write to ${p.email}.\n`, 'text/markdown');
  const document = await t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${base.json().id}/documents`, headers: { ...api.headers(), ...upload.headers }, payload: upload.payload });
  expect(document.statusCode, document.body).toBe(202);
  const documentId = document.json().id as string;
  const ready = await waitFor(async () => (await api.get(`/knowledge-bases/${base.json().id}/documents/${documentId}`)).json().status === 'ready', 15_000);
  expect(ready).toBe(true);
  const consents = await p.browser.request('PUT' as 'POST', '/me/consents', { product_analytics: true });
  expect(consents.statusCode, consents.body).toBe(200);
  return { ...p, agentId: agent.json().id, conversationId: conversation.json().id, baseId: base.json().id, documentId };
}

const TRANSIENT_COUNTER = /^mon:t:[a-z]+:user:[0-9a-f-]{36}:\d+$/;

export interface Remnant {
  where: string;
  needle: string;
}

/** Every text, uuid, json or bytea column of every table that holds any of the needles. */
export async function searchDatabase(t: TestApp, needles: string[]): Promise<Remnant[]> {
  const columns = await sql<{ table_name: string; column_name: string; data_type: string }>`
    select c.table_name, c.column_name, c.data_type from information_schema.columns c
    join information_schema.tables tb on tb.table_name = c.table_name and tb.table_schema = c.table_schema
    where c.table_schema = 'public' and tb.table_type = 'BASE TABLE'
      and c.data_type in ('text', 'character varying', 'uuid', 'jsonb', 'json', 'bytea', 'ARRAY', 'tsvector')`.execute(t.database.db);
  expect(columns.rows.length).toBeGreaterThan(50); // the search looks at the whole schema
  const found: Remnant[] = [];
  for (const column of columns.rows) {
    for (const needle of needles) {
      // Identifiers come from information_schema (code), never from input.
      const value = column.data_type === 'bytea' ? sql`position(convert_to(${needle}, 'UTF8') in ${sql.ref(column.column_name)}) > 0` : sql`position(lower(${needle}) in lower(${sql.ref(column.column_name)}::text)) > 0`;
      const hit = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(column.table_name)} where ${value}`.execute(t.database.db);
      if (Number(hit.rows[0]?.n) > 0) found.push({ where: `${column.table_name}.${column.column_name}`, needle });
    }
  }
  return found;
}

/** Every key and value of the store (memory or Redis) that holds any of the needles. */
export async function searchStore(t: TestApp, needles: string[]): Promise<Remnant[]> {
  const entries: [string, string][] = [];
  if (t.store instanceof MemoryStore) {
    // Test-only look inside the in-memory store: the Store interface has no listing on purpose.
    const map = (t.store as unknown as { entries: Map<string, { value: string; expiresAt: number | null }> }).entries;
    for (const [key, entry] of map) if (entry.expiresAt === null || entry.expiresAt > Date.now()) entries.push([key, entry.value]);
  } else if (t.store instanceof RedisStore && TEST_REDIS_URL) {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${t.store.prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          const value = type === 'string' ? ((await redis.get(key)) ?? '') : JSON.stringify(await (type === 'hash' ? redis.hgetall(key) : redis.dump(key)));
          entries.push([key.slice(t.store.prefix.length), value]);
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
  expect(entries.length).toBeGreaterThan(0); // the search sees the store
  const found: Remnant[] = [];
  for (const [key, value] of entries) {
    for (const needle of needles) {
      if (!key.toLowerCase().includes(needle.toLowerCase()) && !value.toLowerCase().includes(needle.toLowerCase())) continue;
      // The monitoring module's per-principal counters (modules/monitoring) hold only counts
      // and expire within two of its windows: allowed if they really do expire within an hour.
      if (TRANSIENT_COUNTER.test(key) && /^\d+$/.test(value)) {
        const ttl = await t.store.ttl(key);
        expect(ttl, key).not.toBeNull();
        expect(ttl!, key).toBeGreaterThan(0);
        expect(ttl!, key).toBeLessThanOrEqual(60 * 60 * 1000);
        continue;
      }
      found.push({ where: `store:${key}`, needle });
    }
  }
  return found;
}
