/** Queries on provider_connections; every one filters by workspace. */
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ProviderConnectionsTable } from '../../platform/db/schema/index.js';

export type ConnectionRow = Selectable<ProviderConnectionsTable>;

export async function insertConnection(db: Db, row: ConnectionRow): Promise<void> {
  await db.insertInto('provider_connections').values(row).execute();
}

export function listConnections(db: Db, workspaceId: string): Promise<ConnectionRow[]> {
  return db.selectFrom('provider_connections').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').execute();
}

export function findConnection(db: Db, workspaceId: string, id: string): Promise<ConnectionRow | undefined> {
  return db.selectFrom('provider_connections').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
}

export async function updateConnection(db: Db, workspaceId: string, id: string, changes: Partial<Omit<ConnectionRow, 'id' | 'workspace_id' | 'created_at'>>): Promise<void> {
  await db.updateTable('provider_connections').set(changes).where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

export async function deleteConnection(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('provider_connections').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Live agents whose current version uses the connection. */
export async function countAgentsUsing(db: Db, workspaceId: string, id: string): Promise<number> {
  const row = await db
    .selectFrom('agents as a')
    .innerJoin('agent_versions as v', (j) => j.onRef('v.agent_id', '=', 'a.id').onRef('v.version', '=', 'a.current_version'))
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('a.workspace_id', '=', workspaceId)
    .where('a.deleted_at', 'is', null)
    .where(sql<string>`v.config->>'providerConnectionId'`, '=', id)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
