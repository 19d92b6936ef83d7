/**
 * Answers never stay `streaming`: a writer that stops heartbeating has its answer finished
 * by any process's sweeper (keeping the text of the last checkpoint), a live answer is
 * never swept, and a final write that fails because the database is down reaches the
 * client as a terminal `error` event and lands once the database is back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../platform/db/database.js';
import { migrate } from '../../platform/db/migrator.js';
import { parseEvents, setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { apiUser } from '../../../test/api-client.js';
import { startFakeLlm } from '../../../test/fake-llm.js';
import { buildTestApp, createPostgresDatabase, freePort, postgresDatabaseName, silentLogger, TEST_DATABASE_URL, waitFor } from '../../../test/harness.js';
import { TcpProxy } from '../../../test/tcp-proxy.js';
import { AnswerLeases, LEASE_TIMINGS } from './leases.js';

describe('answer leases', () => {
  const chat = useChatApp();

  /** Three finished answers in one conversation, ids oldest first. */
  async function threeAnswers(): Promise<{ ids: string[]; read: () => Promise<{ id: string; status: string; stopReason: string | null; text: string }[]> }> {
    const { client, conversationId } = await setUpChat(chat);
    chat.fake.enqueue({ kind: 'text', text: 'First partial answer' }, { kind: 'text', text: 'Second partial answer' }, { kind: 'text', text: 'Third partial answer' });
    for (const content of ['one', 'two', 'three']) expect((await client.post(`/conversations/${conversationId}/messages`, { content })).statusCode).toBe(201);
    const read = async () => (await client.get(`/conversations/${conversationId}/messages`)).json().messages.filter((m: { role: string }) => m.role === 'assistant');
    return { ids: (await read()).map((m: { id: string }) => m.id), read };
  }

  async function workspaceOf(id: string): Promise<string> {
    return (await chat.t.database.db.selectFrom('messages').select('workspace_id').where('id', '=', id).executeTakeFirstOrThrow()).workspace_id;
  }

  async function setStreaming(id: string, owner: string, updatedAt: Date): Promise<void> {
    await chat.t.database.db.updateTable('messages').set({ status: 'streaming', stop_reason: null, lease_owner: owner, updated_at: updatedAt }).where('id', '=', id).execute();
  }

  it('sweeps an answer whose writer stopped heartbeating, keeping its text, and leaves live ones alone', async () => {
    const { ids, read } = await threeAnswers();
    const [dead, other, mine] = ids as [string, string, string];
    const now = chat.clock.now().getTime();
    const here = new AnswerLeases(chat.t.database.db, chat.clock, silentLogger);
    const elsewhere = new AnswerLeases(chat.t.database.db, chat.clock, silentLogger);
    await setStreaming(dead, 'a-killed-process', new Date(now - LEASE_TIMINGS.staleMs - 1_000));
    await setStreaming(other, elsewhere.owner, new Date(now - 5_000)); // heartbeating elsewhere
    await setStreaming(mine, here.owner, new Date(now - 10 * LEASE_TIMINGS.staleMs)); // beat missed, but live in this process
    const lease = here.hold(await workspaceOf(mine), mine);
    try {
      expect(await here.sweep()).toBe(1);
      expect(await read()).toMatchObject([
        { id: dead, status: 'incomplete', stopReason: 'interrupted', text: 'First partial answer' },
        { id: other, status: 'streaming' },
        { id: mine, status: 'streaming' },
      ]);
      // The other process's writer stops: its answer is finished once the lease is stale.
      chat.clock.advance(LEASE_TIMINGS.staleMs);
      expect(await here.sweep()).toBe(1);
      expect((await read())[1]).toMatchObject({ status: 'incomplete', stopReason: 'interrupted', text: 'Second partial answer' });
    } finally {
      lease.release();
    }
    // Released (this process stopped writing it) and stale: any process finishes it.
    expect(await elsewhere.sweep()).toBe(1);
    expect((await read())[2]).toMatchObject({ status: 'incomplete', stopReason: 'interrupted', text: 'Third partial answer' });
    expect(await elsewhere.sweep()).toBe(0);
  });

  it('heartbeats a held answer, so no other process sweeps it while it streams', async () => {
    const { ids, read } = await threeAnswers();
    const id = ids[0]!;
    const workspaceId = await workspaceOf(id);
    const writer = new AnswerLeases(chat.t.database.db, chat.clock, silentLogger, { ...LEASE_TIMINGS, heartbeatMs: 25 });
    const sweeper = new AnswerLeases(chat.t.database.db, chat.clock, silentLogger);
    await setStreaming(id, writer.owner, chat.clock.now());
    const lease = writer.hold(workspaceId, id);
    try {
      chat.clock.advance(LEASE_TIMINGS.staleMs + 1_000);
      const beat = await waitFor(
        async () => {
          const row = await chat.t.database.db.selectFrom('messages').select('updated_at').where('id', '=', id).executeTakeFirstOrThrow();
          return row.updated_at.getTime() === chat.clock.now().getTime();
        },
        5_000,
        20,
      );
      expect(beat).toBe(true);
      expect(await sweeper.sweep()).toBe(0);
    } finally {
      lease.release();
    }
    chat.clock.advance(LEASE_TIMINGS.staleMs + 1_000);
    expect(await sweeper.sweep()).toBe(1);
    expect((await read())[0]).toMatchObject({ status: 'incomplete', stopReason: 'interrupted' });
  });
});

// PGlite lives in the process; only the PostgreSQL run has a database server to lose.
if (TEST_DATABASE_URL)
  describe('the database lost while an answer streams', () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    });

    it('ends the stream with a terminal error event and saves the answer when the database returns', async () => {
      const target = new URL(await createPostgresDatabase(postgresDatabaseName('leases')));
      const proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
      await proxy.start();
      const viaProxy = new URL(target);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const database = openPostgres(viaProxy.toString(), { DB_POOL_MAX: 4, DB_STATEMENT_TIMEOUT_MS: 5_000, DB_IDLE_TIMEOUT_MS: 30_000, DB_CONNECT_TIMEOUT_MS: 500 }, silentLogger);
      await migrate(database.db);
      const fake = await startFakeLlm();
      const t = await buildTestApp({ database, env: { REQUIRE_MFA: 'none', OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*', PROVIDER_TIMEOUT_MS: '5000' } });
      cleanups.push(
        () => database.close(),
        () => proxy.cut(),
        () => fake.close(),
        () => t.close(),
      );

      const { client, conversationId } = await setUpChat({ t, fake } as unknown as ReturnType<typeof useChatApp>, { client: await apiUser(t) });
      const words = Array.from({ length: 12 }, (_, i) => `word${i}`).join(' ');
      fake.enqueue({ kind: 'text', text: words, chunkDelayMs: 80 });
      const answering = client.post(`/conversations/${conversationId}/messages`, { content: 'Tell me' }, { accept: 'text/event-stream' });
      // The provider is called once the question and the streaming answer are stored; then the database goes.
      expect(await waitFor(async () => fake.requests.length > 0, 10_000, 10)).toBe(true);
      await proxy.cut();
      const response = await answering;
      const events = parseEvents(response.body);
      expect(
        events
          .filter((e) => e.event === 'delta')
          .map((e) => e.data.text as string)
          .join('')
          .trim(),
      ).toBe(words);
      const last = events.at(-1)!;
      expect(last.event).toBe('error');
      expect(last.data).toMatchObject({ code: 'service_unavailable' });
      expect(last.data.message).toMatch(/saved when the database returns/);
      expect(response.body).not.toMatch(/ECONNREFUSED|Connection terminated/);

      await proxy.start();
      const saved = await waitFor(
        async () => {
          const messages = await client.get(`/conversations/${conversationId}/messages`);
          if (messages.statusCode !== 200) return false;
          const answer = messages.json().messages.at(-1);
          return answer.status === 'complete' && answer.text.trim() === words;
        },
        20_000,
        250,
      );
      expect(saved, JSON.stringify((await client.get(`/conversations/${conversationId}/messages`)).json())).toBe(true);
    });
  });
