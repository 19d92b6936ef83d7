/**
 * Finding one's conversations through the API: words in titles and messages, stemmed and
 * ranked, with the snippet that matches; the index holds keyed blind terms, never words;
 * only the owner's live conversations are found; hostile queries get a 400 or nothing,
 * never an error; and the indexer works off a backlog and survives running concurrently.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';
import { silentLogger, TEST_DATABASE_URL } from '../../../test/harness.js';
import { systemClock } from '../../platform/clock.js';
import { ApiKeyService } from '../api-keys/service.js';
import * as repo from './repo.js';
import { ConversationSearchIndexer } from './search-index.js';
import { lockTitles, totalsDrift } from './search-repo.js';
import { MessageSealing } from './sealing.js';

const chat = useChatApp();

function indexer(): ConversationSearchIndexer {
  return new ConversationSearchIndexer({ db: chat.t.database.db, encryptor: chat.t.encryptor, clock: systemClock, logger: silentLogger }, { intervalMs: 60_000, batch: 7 });
}

/** Works off the index's backlog now (the app's own indexer would within moments). */
const indexed = () => indexer().indexBacklog();

async function ask(client: ApiClient, conversationId: string, content: string, answer: string): Promise<void> {
  chat.fake.enqueue({ kind: 'text', text: answer });
  const response = await client.post(`/conversations/${conversationId}/messages`, { content });
  expect(response.statusCode, response.body).toBe(201);
}

interface Hit {
  conversation: { id: string; title: string | null; archived: boolean };
  match: { messageId: string | null; role: string | null; snippet: string; highlights: { start: number; end: number }[] };
  matched: number;
}

async function search(client: ApiClient, q: string): Promise<Hit[]> {
  await indexed();
  const response = await client.get(`/conversations/search?q=${encodeURIComponent(q)}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json().results;
}

/** A conversation's totals are the weighted sums of its message and title arrays, for every word: none missing, none left over. */
async function expectConsistentTotals(): Promise<void> {
  expect(await totalsDrift(chat.t.database.db)).toBe(0);
}

const ids = (hits: Hit[]) => hits.map((hit) => hit.conversation.id);
const emphasised = (hit: Hit) => hit.match.highlights.map(({ start, end }) => hit.match.snippet.slice(start, end));

describe('finding conversations', () => {
  it('finds messages and titles by their words in any form, ranked, with the snippet that matches', async () => {
    const { client, agentId, conversationId: invoices } = await setUpChat(chat);
    await ask(client, invoices, 'Where do I upload the supplier invoices for March?', 'Supplier invoicing goes through the finance portal; upload each invoice as a PDF.');
    const travel = (await client.post('/conversations', { agentId })).json().id;
    await ask(client, travel, 'Book a train to Lyon', 'The train to Lyon leaves at 9:12. Keep the invoice for your expense report.');
    const renamed = (await client.post('/conversations', { agentId })).json().id;
    expect((await client.patch(`/conversations/${renamed}`, { title: 'Quarterly supplier review' })).statusCode).toBe(200);

    // "invoice" is in two conversations; the one holding both words comes first.
    const both = await search(client, 'supplier invoice');
    expect(ids(both)).toEqual([invoices, renamed, travel]);
    expect(both[0]).toMatchObject({ matched: 2, match: { role: expect.any(String) } });
    expect(both[0]!.match.messageId).not.toBeNull();
    const words = emphasised(both[0]!).map((word) => word.toLowerCase());
    expect(words).toContain('supplier');
    for (const word of words) expect(word).toMatch(/^(supplier|invoic)/);
    expect(both[1]).toMatchObject({ matched: 1, match: { messageId: null, role: null, snippet: 'Quarterly supplier review' } });
    expect(emphasised(both[1]!)).toEqual(['supplier']);

    // Stemming: "uploading" finds "upload"; the answer's words are found too.
    expect(ids(await search(client, 'uploading'))).toEqual([invoices]);
    expect(ids(await search(client, 'expenses'))).toEqual([travel]);
    expect(ids(await search(client, 'LYON'))).toEqual([travel]);
    expect(await search(client, 'submarine')).toEqual([]);
  });

  it('cuts a long message to a snippet around the words found', async () => {
    const { client, conversationId } = await setUpChat(chat);
    const filler = 'lorem ipsum dolor sit amet '.repeat(40);
    await ask(client, conversationId, `${filler} the quarterly reconciliation deadline is Friday ${filler}`, 'Noted.');
    const [hit] = await search(client, 'reconciliation deadline');
    expect(hit!.match.snippet.length).toBeLessThan(260);
    expect(hit!.match.snippet).toMatch(/^… .*reconciliation deadline.* …$/);
    expect(emphasised(hit!)).toEqual(['reconciliation', 'deadline']);
  });

  it('stores no word in clear: terms are keyed per workspace', async () => {
    const { client, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'The pelican project budget is confidential', 'Understood, pelican stays confidential.');
    const other = await apiUser(chat.t);
    const { conversationId: theirs } = await setUpChat(chat, { client: other });
    await ask(other, theirs, 'pelican', 'pelican');
    await indexed();

    const dump = await sql<{ row: string }>`select search_terms::text as row from messages where search_terms is not null
      union all select title_terms::text from conversations where title_terms is not null union all select t::text from conversation_search_totals t`.execute(chat.t.database.db);
    expect(dump.rows.length).toBeGreaterThan(0);
    for (const { row } of dump.rows) expect(row).not.toMatch(/pelican|budget|confidential/i);
    // The same word is another term in another workspace: no comparing across tenants.
    const termsOf = async (userId: string) => new Set((await chat.t.database.db.selectFrom('conversation_search_totals').select('term').where('user_id', '=', userId).execute()).map((r) => String(r.term)));
    const [mine, theirTerms] = await Promise.all([termsOf(client.userId), termsOf(other.userId)]);
    expect([...theirTerms].filter((term) => mine.has(term))).toEqual([]);
    expect(ids(await search(other, 'pelican'))).toEqual([theirs]);
  });

  it('finds only your own live conversations: not a colleague’s, not a stranger’s, not deleted ones', async () => {
    const owner = await apiUser(chat.t);
    const workspace = (await owner.post('/workspaces', { name: 'Team' })).json();
    owner.workspaceId = workspace.id;
    const { agentId, conversationId } = await setUpChat(chat, { client: owner });
    await ask(owner, conversationId, 'Draft the walrus migration plan', 'Here is the walrus plan.');

    const colleague = await apiUser(chat.t);
    await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: workspace.id, user_id: colleague.userId, role: 'member', created_at: new Date() }).execute();
    colleague.workspaceId = workspace.id;
    const own = (await colleague.post('/conversations', { agentId })).json().id;
    await ask(colleague, own, 'walrus facts', 'Walruses are large.');
    expect(ids(await search(colleague, 'walrus')), 'a colleague finds only their own').toEqual([own]);
    expect(ids(await search(owner, 'walrus'))).toEqual([conversationId]);

    const stranger = await apiUser(chat.t);
    await setUpChat(chat, { client: stranger });
    expect(await search(stranger, 'walrus')).toEqual([]);
    stranger.workspaceId = workspace.id;
    const named = await stranger.get('/conversations/search?q=walrus');
    expect([403, 404], named.body).toContain(named.statusCode);
    expect(named.body).not.toMatch(/walrus plan/i);

    // Archived: still found, and said so. Deleted: gone at once, back with the restore.
    expect((await owner.patch(`/conversations/${conversationId}`, { archived: true })).statusCode).toBe(200);
    expect((await search(owner, 'walrus'))[0]!.conversation.archived).toBe(true);
    expect((await owner.delete(`/conversations/${conversationId}`)).statusCode).toBe(200);
    expect(await search(owner, 'walrus')).toEqual([]);
    expect((await owner.post(`/conversations/${conversationId}/restore`)).statusCode).toBe(200);
    expect(ids(await search(owner, 'walrus'))).toEqual([conversationId]);
  });

  it('needs conversations:read on an API key, and is open to every role (each finds only their own)', async () => {
    const owner = await apiUser(chat.t);
    owner.workspaceId = (await owner.post('/workspaces', { name: 'Team' })).json().id;
    const { agentId, conversationId } = await setUpChat(chat, { client: owner });
    await ask(owner, conversationId, 'Otter sightings log', 'Three otters.');
    await indexed();
    const keys = new ApiKeyService(chat.t.database.db, systemClock, chat.t.store);
    const withKey = (key: string) => chat.t.app.inject({ method: 'GET', url: '/api/v1/conversations/search?q=otter', headers: { authorization: `Bearer ${key}`, 'x-workspace-id': owner.workspaceId! } });
    const reader = await withKey((await keys.create(owner.userId, { name: 'reader', scopes: ['conversations:read'] })).key);
    expect(reader.statusCode, reader.body).toBe(200);
    expect(reader.json().results.map((hit: Hit) => hit.conversation.id)).toEqual([conversationId]);
    const other = await withKey((await keys.create(owner.userId, { name: 'knowledge only', scopes: ['knowledge:read'] })).key);
    expect(other.statusCode).toBe(403);
    expect(other.json().error.code).toBe('insufficient_scope');

    const viewer = await apiUser(chat.t);
    await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: owner.workspaceId!, user_id: viewer.userId, role: 'viewer', created_at: new Date() }).execute();
    viewer.workspaceId = owner.workspaceId;
    expect(await search(viewer, 'otter'), 'a viewer finds nothing of the owner’s').toEqual([]);
    const own = (await viewer.post('/conversations', { agentId })).json().id;
    await ask(viewer, own, 'otter question', 'otter answer');
    expect(ids(await search(viewer, 'otter')), 'and their own').toEqual([own]);
  });

  it('follows renames and regenerated answers: what is no longer shown is no longer found', async () => {
    const { client, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'Suggest a name for the app', 'How about Marmalade?');
    expect(ids(await search(client, 'marmalade'))).toEqual([conversationId]);
    chat.fake.enqueue({ kind: 'text', text: 'How about Quokka?' });
    expect((await client.post(`/conversations/${conversationId}/regenerate`)).statusCode).toBe(201);
    expect(await search(client, 'marmalade'), 'the superseded answer').toEqual([]);
    expect(ids(await search(client, 'quokka'))).toEqual([conversationId]);

    expect((await client.patch(`/conversations/${conversationId}`, { title: 'Branding ideas' })).statusCode).toBe(200);
    expect((await search(client, 'branding'))[0]!.match).toMatchObject({ messageId: null, snippet: 'Branding ideas' });
    expect((await search(client, 'suggest')).length, 'the first title (the question) is replaced, the question still matches').toBe(1);
    expect((await client.patch(`/conversations/${conversationId}`, { title: 'Naming' })).statusCode).toBe(200);
    expect(await search(client, 'branding')).toEqual([]);
    await expectConsistentTotals();
  });

  it('answers hostile and odd queries with a 400 naming the limit, or with nothing — never an error', async () => {
    const { client, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'Résumé for the Zürich office — 日本語 notes', 'Done.');
    for (const q of ["' or 1=1 --", '%', '_', '\\', '%00', '<script>alert(1)</script>', ')))', '{1,2}', '-9223372036854775808', 'null', '__proto__', '🦜'.repeat(50)]) {
      const response = await client.get(`/conversations/search?q=${encodeURIComponent(q)}`);
      expect(response.statusCode, q).toBe(200);
      expect(response.json().results, q).toEqual([]);
    }
    expect(ids(await search(client, 'zürich résumé'))).toEqual([conversationId]);
    expect(ids(await search(client, '日本語'))).toEqual([conversationId]);

    const onlyStopwords = await client.get('/conversations/search?q=the%20and%20of');
    expect(onlyStopwords.json()).toEqual({ words: [], results: [] });

    const refusals: [string, RegExp][] = [
      ['', /at least one word/],
      ['q=', /at least one word/],
      ['q=%20%20', /at least one word/],
      [`q=${'a'.repeat(201)}`, /at most 200 characters/],
      ['q=x&limit=0', /limit/],
      ['q=x&limit=51', /limit/],
      ['q=x&limit=abc', /limit/],
      ['q=x&sort=title', /sort/],
    ];
    for (const [query, message] of refusals) {
      const response = await client.get(`/conversations/search?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.message, query).toMatch(message);
    }
  });
});

describe('the indexer', () => {
  it('indexes a backlog (rows written before the index, or while it failed), once, however many run at once', async () => {
    const { client, agentId } = await setUpChat(chat);
    const conversations: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = (await client.post('/conversations', { agentId })).json().id;
      await ask(client, id, `Question ${i} about the heron survey`, `Answer ${i}: herons counted.`);
      conversations.push(id);
    }
    await indexed();
    const count = async () =>
      Number(
        (
          await sql<{ n: string }>`select (select coalesce(sum(cardinality(m.search_terms)), 0) from messages m join conversations c on c.id = m.conversation_id where c.user_id = ${client.userId})
            + (select count(*) from conversation_search_totals where user_id = ${client.userId}) as n`.execute(chat.t.database.db)
        ).rows[0]!.n,
      );
    const expected = await count();
    // As if written before the index existed: everything waits again, nothing is in the index.
    await sql`update messages set search_terms = null, search_hits = null, search_indexed_at = null where conversation_id = any(${`{${conversations.join(',')}}`}::uuid[])`.execute(chat.t.database.db);
    await sql`update conversations set title_terms = null, title_hits = null, title_indexed_at = null where user_id = ${client.userId}`.execute(chat.t.database.db);
    await sql`delete from conversation_search_totals where user_id = ${client.userId}`.execute(chat.t.database.db);
    expect(await count()).toBe(0);

    await Promise.all([indexer().indexBacklog(), indexer().indexBacklog(), indexer().indexBacklog()]);
    expect(await count(), 'each row indexed once').toBe(expected);
    await expectConsistentTotals();
    const hits = await search(client, 'heron survey');
    expect(new Set(ids(hits))).toEqual(new Set(conversations));
  });

  // On the embedded database transactions take turns, so there is no lock to conflict with.
  it.runIf(TEST_DATABASE_URL)('does not skip a title whose conversation is locked by a totals write (the two indexers used to deadlock)', async () => {
    const { client, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'Where are the kingfishers?', 'By the river.');
    await indexed();
    const db = chat.t.database.db;
    const owner = await db.selectFrom('conversations').select(['workspace_id', 'user_id']).where('id', '=', conversationId).executeTakeFirstOrThrow();
    /** Marks the title for indexing, holds a message indexer's lock on the conversation, and runs the title indexer's lock. */
    const attempt = async (): Promise<string[]> => {
      await db.updateTable('conversations').set({ title_indexed_at: null }).where('id', '=', conversationId).execute();
      // A message indexer mid-transaction: its totals insert holds the foreign key's KEY SHARE lock on the conversation.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let inserted!: () => void;
      const holding = new Promise<void>((resolve) => (inserted = resolve));
      const messageIndexer = db.transaction().execute(async (trx) => {
        await sql`insert into conversation_search_totals (workspace_id, user_id, conversation_id, term, tf) values (${owner.workspace_id}, ${owner.user_id}, ${conversationId}, 42, 1)`.execute(trx);
        inserted();
        await held;
        throw new Error('rolled back');
      });
      await holding;
      try {
        return (await db.transaction().execute((trx) => lockTitles(trx, [conversationId]))).map((row) => row.id);
      } finally {
        release();
        await expect(messageIndexer).rejects.toThrow('rolled back');
      }
    };
    // The app's own indexer, nudged by the answer (about a second later), may take the title
    // first, once; a title indexer that conflicts with the KEY SHARE lock skips it every time.
    let locked = await attempt();
    for (let tries = 1; tries < 4 && locked.length === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      locked = await attempt();
    }
    expect(locked, 'the title indexer takes the title, not skips it').toEqual([conversationId]);
  });

  it('indexes a message again when its content changes', async () => {
    const { client, conversationId } = await setUpChat(chat);
    await ask(client, conversationId, 'first draft', 'The albatross chapter.');
    await indexed();
    const sealing = new MessageSealing(chat.t.encryptor);
    const answer = await chat.t.database.db.selectFrom('messages').select(['id', 'workspace_id']).where('conversation_id', '=', conversationId).where('role', '=', 'assistant').executeTakeFirstOrThrow();
    const content = await sealing.sealContent(answer.workspace_id, answer.id, { text: 'The cormorant chapter.', citations: [], toolCalls: [] });
    await repo.updateMessage(chat.t.database.db, answer.workspace_id, answer.id, { content });
    expect(ids(await search(client, 'cormorant'))).toEqual([conversationId]);
    expect(await search(client, 'albatross')).toEqual([]);
    await expectConsistentTotals();
  });
});
