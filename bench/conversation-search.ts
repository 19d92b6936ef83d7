/**
 * Conversation search latency for a heavy user: BENCH_CONVERSATIONS conversations (default
 * 2,000) of BENCH_MESSAGES_PER messages each (default 20: 40,000 messages), sealed like the
 * chat seals them and indexed by the real indexer, beside other people's conversations in
 * the same workspace. Then BENCH_CONCURRENCY loops (default 1, then 4) of
 * `ConversationSearch.search` (ranking, the titles and best messages opened, the snippets)
 * for BENCH_SECONDS each, against two baselines measured in the same run: `select 1` and the
 * first page of the conversation list (`listConversations`, 50 rows, titles opened).
 *
 * Messages are prose over a 20,000-word Zipf vocabulary of made-up words plus English glue
 * words. Queries: 1–3 words drawn from ranks 20–5,000 ("typical"), and the 1–3 commonest
 * words ("worst": each in most messages, so the postings read are the longest).
 *
 *   BENCH_BACKEND=embedded npx tsx bench/conversation-search.ts
 *   BENCH_BACKEND=postgres DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/conversation-search.ts
 * (On PostgreSQL DATABASE_URL names the admin database: a fresh database is created and dropped;
 * BENCH_KEEP=1 keeps it, to EXPLAIN queries.)
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { loadConfig } from '../server/src/config/index.js';
import { systemClock } from '../server/src/platform/clock.js';
import { Encryptor } from '../server/src/platform/crypto/envelope.js';
import { Keyring } from '../server/src/platform/crypto/keyring.js';
import { generateMasterKey } from '../server/src/platform/crypto/master-keys.js';
import { openDatabase, openPostgres } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { createLogger } from '../server/src/platform/log.js';
import { listConversations } from '../server/src/modules/chat/repo.js';
import { ConversationSearch, queryWords } from '../server/src/modules/chat/search.js';
import { wordsOf } from '../server/src/modules/chat/search-text.js';
import { ConversationSearchIndexer } from '../server/src/modules/chat/search-index.js';
import { MessageSealing } from '../server/src/modules/chat/sealing.js';
import type { WorkspaceContext } from '../server/src/modules/workspaces/service.js';
import { cores, loadAverage } from './lib/machine.js';
import { tempDir } from './lib/paths.js';
import { percentile } from './lib/stats.js';

const BACKEND = process.env.BENCH_BACKEND ?? 'embedded';
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 2_000);
const MESSAGES_PER = Number(process.env.BENCH_MESSAGES_PER ?? 20);
const OTHERS = Number(process.env.BENCH_OTHER_CONVERSATIONS ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,4').split(',').map(Number);
const DB_NAME = 'bastion_bench_conversation_search';

// mulberry32: small, seeded, and uniform enough that every rank of the vocabulary occurs.
let seed = 11;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const SYLLABLES = 'ka lo mi nu pe ra si to vu ze bra cle dri fro glu pla sto tri ve xo an el in or us'.split(' ');
const VOCABULARY = Array.from({ length: 20_000 }, (_, i) => {
  let n = i + 31;
  let w = '';
  while (n > 0) {
    w += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  }
  return w;
});
const GLUE = 'the a of to and in is it for on that with as this be you'.split(' ');
// Zipf: P(rank r) ∝ 1/r, by inverting the harmonic CDF approximately.
const zipfRank = () => Math.min(VOCABULARY.length - 1, Math.floor(Math.exp(rand() * Math.log(VOCABULARY.length))) - 1);
const word = () => (rand() < 0.3 ? GLUE[Math.floor(rand() * GLUE.length)]! : VOCABULARY[zipfRank()]!);
const sentence = (n: number) => {
  const words = Array.from({ length: n }, word);
  return words[0]!.charAt(0).toUpperCase() + words.join(' ').slice(1) + '.';
};
const text = (words: number) => {
  const out: string[] = [];
  for (let n = 0; n < words;) {
    const length = 6 + Math.floor(rand() * 12);
    out.push(sentence(length));
    n += length;
  }
  return out.join(' ');
};
const pick = (from: number, to: number, n: number) => Array.from({ length: n }, () => VOCABULARY[from + Math.floor(rand() * (to - from))]!).join(' ');
const typicalQuery = () => pick(20, 5_000, 1 + Math.floor(rand() * 3));
const worstQuery = () => pick(0, 3, 1 + Math.floor(rand() * 3));

async function loop(concurrency: number, fn: () => Promise<unknown>): Promise<{ lat: number[]; rps: number }> {
  const lat: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await fn();
        lat.push(performance.now() - t);
      }
    }),
  );
  return { lat, rps: lat.length / SECONDS };
}

const logger = createLogger('silent');
let databaseUrl: string | undefined;
if (BACKEND === 'postgres') {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = openPostgres(adminUrl, { DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: 60_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 5_000 }, logger);
  await sql`drop database if exists ${sql.id(DB_NAME)} with (force)`.execute(admin.db);
  await sql`create database ${sql.id(DB_NAME)}`.execute(admin.db);
  await admin.close();
  databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${DB_NAME}` }).toString();
}
const config = loadConfig({ DATA_DIR: tempDir('bastion-bench-conversation-search-'), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
const database = await openDatabase(config, logger, { owner: 'command' });
const db = database.db;
await migrate(db);
const master = generateMasterKey();
const encryptor = new Encryptor(db, new Keyring({ keys: [master], activeId: master.id }));
const sealing = new MessageSealing(encryptor);

// One workspace: the heavy user and a colleague, their agent, then the conversations.
const now = Date.now();
const at = (ms: number) => new Date(now - ms);
const [userId, colleagueId, workspaceId, agentId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
await db
  .insertInto('users')
  .values([userId, colleagueId].map((id, i) => ({ id, email: `search-bench-${i}-${id}@example.org`, name: 'Search bench', role: 'member' as const, password_hash: 'unused', email_verified_at: at(0), created_at: at(0), updated_at: at(0) })))
  .execute();
await db
  .insertInto('workspaces')
  .values({ id: workspaceId, name: 'bench', personal_owner_id: null, monthly_token_budget: null, created_at: at(0), updated_at: at(0) })
  .execute();
await db
  .insertInto('workspace_members')
  .values([userId, colleagueId].map((id) => ({ workspace_id: workspaceId, user_id: id, role: 'member' as const, created_at: at(0) })))
  .execute();
await db
  .insertInto('agents')
  .values({ id: agentId, workspace_id: workspaceId, current_version: 1, created_by: userId, created_at: at(0), updated_at: at(0), deleted_at: null })
  .execute();
await db
  .insertInto('agent_versions')
  .values({ agent_id: agentId, version: 1, config: JSON.stringify({ name: 'bench' }), created_by: userId, created_at: at(0) })
  .execute();

async function seed_(owner: string, conversations: number): Promise<void> {
  for (let done = 0; done < conversations; done += 50) {
    const batch = Array.from({ length: Math.min(50, conversations - done) }, (_, i) => ({ id: randomUUID(), started: (done + i) * 3_600_000 }));
    const rows = await Promise.all(
      batch.map(async (c) => ({
        id: c.id,
        workspace_id: workspaceId,
        user_id: owner,
        agent_id: agentId,
        agent_version: 1,
        source: 'chat' as const,
        title: await sealing.sealTitle(workspaceId, c.id, sentence(3 + Math.floor(rand() * 5))),
        created_at: at(c.started),
        updated_at: at(c.started - MESSAGES_PER * 60_000),
        pinned_at: null,
        archived_at: null,
        deleted_at: null,
        title_indexed_at: null,
      })),
    );
    await db.insertInto('conversations').values(rows).execute();
    const messages = await Promise.all(
      batch.flatMap((c) =>
        Array.from({ length: MESSAGES_PER }, async (_, m) => {
          const id = randomUUID();
          const role = m % 2 === 0 ? ('user' as const) : ('assistant' as const);
          const content = { text: text(role === 'user' ? 12 + Math.floor(rand() * 30) : 40 + Math.floor(rand() * 120)), citations: [], toolCalls: [] };
          return {
            id,
            conversation_id: c.id,
            workspace_id: workspaceId,
            role,
            content: await sealing.sealContent(workspaceId, id, content),
            status: 'complete' as const,
            stop_reason: null,
            agent_version: 1,
            model: role === 'assistant' ? 'bench' : null,
            created_at: at(c.started - m * 60_000),
            updated_at: at(c.started - m * 60_000),
            search_indexed_at: null,
          };
        }),
      ),
    );
    await db.insertInto('messages').values(messages).execute();
  }
}

const t0 = performance.now();
await seed_(userId, CONVERSATIONS);
await seed_(colleagueId, OTHERS);
const seeded = (performance.now() - t0) / 1000;
const t1 = performance.now();
const indexed = await new ConversationSearchIndexer({ db, encryptor, clock: systemClock, logger }, { intervalMs: 60_000, batch: 500 }).indexBacklog();
const indexSeconds = (performance.now() - t1) / 1000;
await sql`analyze`.execute(db);
const termRows = Number((await sql<{ n: string }>`select sum(cardinality(search_terms)) as n from messages`.execute(db)).rows[0]!.n);
const totalRows = Number((await sql<{ n: string }>`select count(*) as n from conversation_search_totals`.execute(db)).rows[0]!.n);
const messages = (CONVERSATIONS + OTHERS) * MESSAGES_PER;
console.error(`seeded ${CONVERSATIONS + OTHERS} conversations, ${messages} messages in ${seeded.toFixed(1)} s; indexed ${indexed} rows (${termRows} message words, ${totalRows} totals) in ${indexSeconds.toFixed(1)} s`);

const context = { workspaceId, userId, role: 'member' } as WorkspaceContext;
const search = new ConversationSearch({ db, encryptor, clock: systemClock });
let found = 0;
let searches = 0;
const run = async (query: () => string) => {
  const result = await search.search(context, query(), 20);
  searches++;
  if (result.hits.length > 0) found++;
};
// Warm the data key and the plans, then measure.
for (let i = 0; i < 20; i++) await run(typicalQuery);
found = searches = 0;

const rows: string[] = [];
const f = (n: number) => n.toFixed(1);
const load = loadAverage();
for (const concurrency of CONCURRENCY) {
  const baseline = await loop(concurrency, () => sql`select 1`.execute(db));
  const list = await loop(concurrency, async () => Promise.all((await listConversations(db, { workspaceId, userId }, 50)).map((row) => sealing.openTitle(row.id, row.title!))));
  const typical = await loop(concurrency, () => run(typicalQuery));
  const worst = await loop(concurrency, () => run(worstQuery));
  // The alternative to an index: open every message of the user and look for the words.
  const scan = await loop(concurrency, async () => {
    const stems = new Set(queryWords(typicalQuery()));
    const rows = await db.selectFrom('messages as m').innerJoin('conversations as c', 'c.id', 'm.conversation_id').select(['m.id', 'm.content']).where('c.workspace_id', '=', workspaceId).where('c.user_id', '=', userId).execute();
    let matching = 0;
    for (const row of rows) if (wordsOf((await sealing.openContent(row)).text).some((w) => stems.has(w.stem))) matching++;
    return matching;
  });
  const ratio = (lat: number[]) => `${(percentile(lat, 95) / percentile(list.lat, 95)).toFixed(1)}×`;
  for (const [name, r] of [
    ['select 1 (baseline)', baseline],
    ['list, first 50 (baseline)', list],
    ['search, typical words', typical],
    ['search, the commonest words', worst],
    ['decrypt and scan every message (not used)', scan],
  ] as const) {
    rows.push(`| ${concurrency} | ${name} | ${r.rps.toFixed(0)} | ${f(percentile(r.lat, 50))} | ${f(percentile(r.lat, 95))} | ${f(percentile(r.lat, 99))} | ${ratio(r.lat)} |`);
  }
}
await database.close();
if (databaseUrl && !process.env.BENCH_KEEP) {
  const admin = openPostgres(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', { DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: 60_000, DB_IDLE_TIMEOUT_MS: 10_000, DB_CONNECT_TIMEOUT_MS: 5_000 }, logger);
  await sql`drop database if exists ${sql.id(DB_NAME)} with (force)`.execute(admin.db);
  await admin.close();
}

console.log(
  `# Conversation search benchmark (${new Date().toISOString().slice(0, 16)}Z, ${cores()} cores, ${BACKEND === 'postgres' ? 'PostgreSQL' : 'embedded PGlite'}, load average ${load.toFixed(2)} at the start, ${loadAverage().toFixed(2)} at the end)\n`,
);
console.log(
  `One user with ${CONVERSATIONS} conversations × ${MESSAGES_PER} messages (${CONVERSATIONS * MESSAGES_PER} messages), a colleague with ${OTHERS} more in the same workspace; ${termRows} message words in the index, ${totalRows} conversation totals rows. Indexing the ${messages} messages and titles took ${indexSeconds.toFixed(1)} s (${(messages / indexSeconds).toFixed(0)} messages/s, one indexer). Each row: loops at the given concurrency for ${SECONDS} s; ${searches} searches, ${((100 * found) / Math.max(1, searches)).toFixed(0)}% with results.\n`,
);
console.log('| concurrency | query | per s | p50 ms | p95 ms | p99 ms | p95 vs list |\n|---|---|---:|---:|---:|---:|---:|');
console.log(rows.join('\n'));
