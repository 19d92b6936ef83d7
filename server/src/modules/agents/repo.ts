/** Queries on agents and agent_versions; every one filters by workspace. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { AgentsTable, AgentVersionsTable } from '../../platform/db/schema/index.js';

export type AgentRow = Selectable<AgentsTable>;
export type AgentVersionRow = Selectable<AgentVersionsTable>;
export type AgentWithConfig = AgentRow & { config: unknown };

/** Agents with their current configuration, fetched per agent by primary key (cost follows the page size, not the history). */
function withCurrentConfig(db: Db) {
  return db
    .selectFrom('agents as a')
    .selectAll('a')
    .select((eb) => eb.selectFrom('agent_versions as v').select('v.config').whereRef('v.agent_id', '=', 'a.id').whereRef('v.version', '=', 'a.current_version').as('config'));
}

export async function insertAgent(db: Db, agent: AgentRow, version: AgentVersionRow): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx.insertInto('agents').values(agent).execute();
    await trx
      .insertInto('agent_versions')
      .values({ ...version, config: JSON.stringify(version.config) })
      .execute();
  });
}

export function listAgents(db: Db, workspaceId: string, limit: number): Promise<AgentWithConfig[]> {
  return withCurrentConfig(db).where('a.workspace_id', '=', workspaceId).where('a.deleted_at', 'is', null).orderBy('a.updated_at', 'desc').limit(limit).execute();
}

export function findAgent(db: Db, workspaceId: string, id: string): Promise<AgentWithConfig | undefined> {
  return withCurrentConfig(db).where('a.workspace_id', '=', workspaceId).where('a.id', '=', id).where('a.deleted_at', 'is', null).executeTakeFirst();
}

/** Adds version `expected + 1`; returns false when someone else changed the agent first. */
export async function addVersion(db: Db, workspaceId: string, id: string, expected: number, version: AgentVersionRow): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const bumped = await trx
      .updateTable('agents')
      .set({ current_version: expected + 1, updated_at: version.created_at })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .where('current_version', '=', expected)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(bumped.numUpdatedRows) !== 1) return false;
    await trx
      .insertInto('agent_versions')
      .values({ ...version, config: JSON.stringify(version.config) })
      .execute();
    return true;
  });
}

export async function softDeleteAgent(db: Db, workspaceId: string, id: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('agents').set({ deleted_at: now, updated_at: now }).where('workspace_id', '=', workspaceId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function listVersions(db: Db, workspaceId: string, id: string): Promise<AgentVersionRow[]> {
  return db
    .selectFrom('agent_versions as v')
    .innerJoin('agents as a', 'a.id', 'v.agent_id')
    .selectAll('v')
    .where('a.workspace_id', '=', workspaceId)
    .where('a.id', '=', id)
    .where('a.deleted_at', 'is', null)
    .orderBy('v.version', 'desc')
    .execute();
}

/**
 * An agent by id alone, for callers with no workspace to filter by yet: signed webhooks (the
 * signature, checked against the agent's own secret, authenticates the caller) and the
 * OpenAI-compatible API (the model id names the agent; membership is checked next).
 */
export function findAgentForWebhook(db: Db, id: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}
