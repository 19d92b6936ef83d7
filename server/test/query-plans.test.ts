/**
 * The hot queries of the chat API use indexes: with a few thousand rows and fresh
 * statistics, the plans the database picks for the repositories' own queries (captured
 * as Kysely compiles them) contain no sequential scan of a large table.
 */
import { randomUUID } from 'node:crypto';
import { sql, type CompiledQuery, type KyselyPlugin } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from './harness.js';
import type { Database, Db } from '../src/platform/db/database.js';
import { findAgent, listAgents, listVersions } from '../src/modules/agents/repo.js';
import { findConnection, listConnections } from '../src/modules/providers/repo.js';
import { findMembership, listMemberships } from '../src/modules/workspaces/repo.js';
import { findConversation, listConversations, listMessages } from '../src/modules/chat/repo.js';
import { usageByMember } from '../src/modules/chat/member-usage-repo.js';
import { messagesToIndex, rankConversations, titlesToIndex } from '../src/modules/chat/search-repo.js';

/** Tables with at least this many rows must not be scanned sequentially. */
const LARGE = 1_000;
const large = new Set<string>();
const WORKSPACES = 40;
const CONVERSATIONS_PER_WORKSPACE = 100;
const MESSAGES_PER_CONVERSATION = 6;
const AGENTS_PER_WORKSPACE = 50;

let database: Database;
const ids = { workspace: '', user: '', agent: '', conversation: '', connection: '' };

/** Records the SQL and parameters of every query the wrapped instance runs. */
function capturing(db: Db, captured: CompiledQuery[]): Db {
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      captured.push(db.getExecutor().compileQuery(args.node, args.queryId));
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return db.withPlugin(plugin);
}

function seqScans(plan: unknown, found: string[] = []): string[] {
  if (Array.isArray(plan)) plan.forEach((p) => seqScans(p, found));
  else if (plan && typeof plan === 'object') {
    const node = plan as Record<string, unknown>;
    if (node['Node Type'] === 'Seq Scan' && large.has(String(node['Relation Name']))) found.push(String(node['Relation Name']));
    for (const value of Object.values(node)) if (typeof value === 'object') seqScans(value, found);
  }
  return found;
}

beforeAll(async () => {
  database = await testDatabase();
  const db = database.db;
  const now = new Date('2026-01-01T00:00:00Z');
  const users = Array.from({ length: WORKSPACES }, (_, i) => ({ id: randomUUID(), email: `plan${i}@example.org`, name: 'P', role: 'member' as const, password_hash: 'x', email_verified_at: now, created_at: now, updated_at: now }));
  await db.insertInto('users').values(users).execute();
  const workspaces = users.map((u) => ({ id: randomUUID(), name: 'W', personal_owner_id: u.id, monthly_token_budget: null, created_at: now, updated_at: now }));
  await db.insertInto('workspaces').values(workspaces).execute();
  await db
    .insertInto('workspace_members')
    .values(workspaces.map((w, i) => ({ workspace_id: w.id, user_id: users[i]!.id, role: 'owner' as const, created_at: now })))
    .execute();
  const connections = workspaces.flatMap((w) =>
    Array.from({ length: 5 }, () => ({
      id: randomUUID(),
      workspace_id: w.id,
      name: 'c',
      kind: 'openai' as const,
      base_url: 'https://example.com/v1',
      default_model: null,
      credentials: null,
      credential_hint: null,
      created_at: now,
      updated_at: now,
    })),
  );
  await db.insertInto('provider_connections').values(connections).execute();
  const agents = workspaces.flatMap((w, i) => Array.from({ length: AGENTS_PER_WORKSPACE }, () => ({ id: randomUUID(), workspace_id: w.id, current_version: 1, created_by: users[i]!.id, created_at: now, updated_at: now, deleted_at: null })));
  await db.insertInto('agents').values(agents).execute();
  await db
    .insertInto('agent_versions')
    .values(agents.map((a) => ({ agent_id: a.id, version: 1, config: JSON.stringify({ name: 'a' }), created_by: a.created_by, created_at: now })))
    .execute();
  for (const [i, w] of workspaces.entries()) {
    const conversations = Array.from({ length: CONVERSATIONS_PER_WORKSPACE }, (_, n) => ({
      id: randomUUID(),
      workspace_id: w.id,
      user_id: users[i]!.id,
      agent_id: agents[i * AGENTS_PER_WORKSPACE]!.id,
      agent_version: 1,
      source: 'chat' as const,
      title: null,
      created_at: now,
      updated_at: new Date(now.getTime() + n * 1000),
    }));
    await db.insertInto('conversations').values(conversations).execute();
    const messages = conversations.flatMap((c) =>
      Array.from({ length: MESSAGES_PER_CONVERSATION }, (_, m) => ({
        id: randomUUID(),
        conversation_id: c.id,
        workspace_id: w.id,
        role: m % 2 ? ('assistant' as const) : ('user' as const),
        content: Buffer.from('x'),
        status: 'complete' as const,
        stop_reason: null,
        agent_version: 1,
        model: null,
        created_at: now,
        updated_at: now,
      })),
    );
    await db.insertInto('messages').values(messages).execute();
    // The search index as the indexer leaves it: terms of each message, totals per conversation (a pool of 300 words).
    const word = (n: number) => String(BigInt(n) * 7_919n - 1_000_000_000_000n);
    await sql`update messages set search_terms = array[(abs(hashtext(id::text)) % 300) * 7919 - 1000000000000, (abs(hashtext(id::text || 'x')) % 300) * 7919 - 1000000000000]::bigint[],
      search_hits = '{1,2}' where workspace_id = ${w.id}`.execute(db);
    await db
      .insertInto('conversation_search_totals')
      .values(conversations.flatMap((c, n) => Array.from({ length: 12 }, (_, k) => ({ workspace_id: w.id, user_id: users[i]!.id, conversation_id: c.id, term: word((n * 11 + k * 17) % 300), tf: 1 + k }))))
      .onConflict((oc) => oc.doNothing())
      .execute();
    await db.updateTable('messages').set({ search_indexed_at: now }).where('workspace_id', '=', w.id).execute();
    await db.updateTable('conversations').set({ title_indexed_at: now }).where('workspace_id', '=', w.id).execute();
    if (i === 7) Object.assign(ids, { workspace: w.id, user: users[i]!.id, agent: agents[i * AGENTS_PER_WORKSPACE]!.id, conversation: conversations[50]!.id, connection: connections[i * 5]!.id });
  }
  await sql`analyze`.execute(db);
  const sizes = await sql<{ relname: string; n: number }>`select relname, n_live_tup::int as n from pg_stat_user_tables`.execute(db);
  for (const row of sizes.rows) if (row.n >= LARGE) large.add(row.relname);
}, 120_000);

describe('query plans of the hot paths', () => {
  it('use indexes, not sequential scans of large tables', async () => {
    const captured: CompiledQuery[] = [];
    const db = capturing(database.db, captured);
    const owner = { workspaceId: ids.workspace, userId: ids.user };
    await listConversations(db, owner, 50);
    await listConversations(db, owner, 50, new Date('2026-01-01T00:01:00Z'));
    await findConversation(db, owner, ids.conversation);
    await listMessages(db, ids.workspace, ids.conversation, false, 1000);
    await listAgents(db, ids.workspace, 500);
    await findAgent(db, ids.workspace, ids.agent);
    await listVersions(db, ids.workspace, ids.agent);
    await listConnections(db, ids.workspace);
    await findConnection(db, ids.workspace, ids.connection);
    await findMembership(db, ids.workspace, ids.user);
    await listMemberships(db, ids.user);
    await usageByMember(db, ids.workspace, new Date('2026-01-01T00:00:00Z'), new Date('2026-02-01T00:00:00Z'));
    await rankConversations(db, owner, ['-999999992081', '-999999984162', '-999999976243'], 20);
    await messagesToIndex(db, 100);
    await titlesToIndex(db, 100);
    expect(captured.length).toBe(15);
    expect([...large].sort()).toEqual(['agent_versions', 'agents', 'conversation_search_totals', 'conversations', 'messages']);
    const counts = await sql<{ n: string }>`select count(*) as n from messages`.execute(database.db);
    expect(Number(counts.rows[0]!.n)).toBe(WORKSPACES * CONVERSATIONS_PER_WORKSPACE * MESSAGES_PER_CONVERSATION);

    await sql`set enable_seqscan = on`.execute(database.db);
    for (const query of captured) {
      // EXPLAIN of a query Kysely compiled from the repositories: SQL from code, values bound.
      const explain = { ...query, sql: `explain (format json) ${query.sql}` };
      const result = await database.db.executeQuery<{ 'QUERY PLAN': unknown }>(explain);
      const raw = result.rows[0]!['QUERY PLAN'];
      const plan = typeof raw === 'string' ? JSON.parse(raw) : raw;
      expect(seqScans(plan), query.sql).toEqual([]);
    }
  });
});
