/** Queries on workspace_sso (a workspace's own OpenID Connect provider); no rules here. `db` may be a transaction. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceSsoTable } from '../../platform/db/schema/index.js';

export type WorkspaceSsoRow = Selectable<WorkspaceSsoTable>;

export function findWorkspaceSso(db: Db, workspaceId: string): Promise<WorkspaceSsoRow | undefined> {
  return db.selectFrom('workspace_sso').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
}

export async function hasWorkspaceSso(db: Db, workspaceId: string): Promise<boolean> {
  return (await db.selectFrom('workspace_sso').select('workspace_id').where('workspace_id', '=', workspaceId).executeTakeFirst()) !== undefined;
}

export async function insertWorkspaceSso(db: Db, row: Insertable<WorkspaceSsoTable>): Promise<void> {
  await db.insertInto('workspace_sso').values(row).execute();
}

export async function updateWorkspaceSso(db: Db, workspaceId: string, changes: Updateable<WorkspaceSsoTable>): Promise<void> {
  await db.updateTable('workspace_sso').set(changes).where('workspace_id', '=', workspaceId).execute();
}

/** False when the workspace had no provider. */
export async function deleteWorkspaceSso(db: Db, workspaceId: string): Promise<boolean> {
  const result = await db.deleteFrom('workspace_sso').where('workspace_id', '=', workspaceId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
