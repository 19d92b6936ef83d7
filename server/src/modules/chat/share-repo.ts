/** Queries of conversation shares (share.ts): one typed query per method. */
import type { Selectable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { ConversationSharesTable } from '../../platform/db/schema/index.js';
import type { Owner } from './repo.js';

export type ShareRow = Selectable<ConversationSharesTable>;

/**
 * Inserts an active share of the owner's live conversation, unless one exists (the
 * partial unique index decides, so parallel requests make one). Undefined when nothing
 * was inserted: the conversation is not the owner's, or it is shared already.
 */
export function insertShare(db: Db, owner: Owner, conversationId: string, id: string, now: Date): Promise<ShareRow | undefined> {
  return db
    .insertInto('conversation_shares')
    .columns(['id', 'conversation_id', 'workspace_id', 'created_by', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom('conversations')
        .select((s) => [s.val(id).as('id'), 'id as conversation_id', 'workspace_id', 'user_id as created_by', s.val(now).as('created_at')])
        .where('id', '=', conversationId)
        .where('workspace_id', '=', owner.workspaceId)
        .where('user_id', '=', owner.userId)
        .where('deleted_at', 'is', null),
    )
    .onConflict((oc) => oc.column('conversation_id').where('revoked_at', 'is', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The active share of the owner's live conversation. */
export function findActiveShare(db: Db, owner: Owner, conversationId: string): Promise<ShareRow | undefined> {
  return db
    .selectFrom('conversation_shares as s')
    .innerJoin('conversations as c', 'c.id', 's.conversation_id')
    .selectAll('s')
    .where('s.conversation_id', '=', conversationId)
    .where('s.revoked_at', 'is', null)
    .where('c.workspace_id', '=', owner.workspaceId)
    .where('c.user_id', '=', owner.userId)
    .where('c.deleted_at', 'is', null)
    .executeTakeFirst();
}

/** Revokes the active share of the owner's live conversation; the revoked row, if there was one. */
export function revokeShare(db: Db, owner: Owner, conversationId: string, now: Date): Promise<ShareRow | undefined> {
  return db
    .updateTable('conversation_shares')
    .set({ revoked_at: now })
    .where('conversation_id', '=', conversationId)
    .where('revoked_at', 'is', null)
    .where('workspace_id', '=', owner.workspaceId)
    .where('created_by', '=', owner.userId)
    .where((eb) => eb.exists(eb.selectFrom('conversations').select('id').where('id', '=', conversationId).where('user_id', '=', owner.userId).where('deleted_at', 'is', null)))
    .returningAll()
    .executeTakeFirst();
}

/** An active share of a live conversation whose author is still a member of its workspace, with the author's name. */
export function findViewableShare(db: Db, id: string): Promise<(ShareRow & { author_name: string; title: Buffer | null }) | undefined> {
  return db
    .selectFrom('conversation_shares as s')
    .innerJoin('conversations as c', 'c.id', 's.conversation_id')
    .innerJoin('workspace_members as m', (join) => join.onRef('m.workspace_id', '=', 's.workspace_id').onRef('m.user_id', '=', 's.created_by'))
    .innerJoin('users as u', 'u.id', 's.created_by')
    .selectAll('s')
    .select(['u.name as author_name', 'c.title'])
    .where('s.id', '=', id)
    .where('s.revoked_at', 'is', null)
    .where('c.deleted_at', 'is', null)
    .executeTakeFirst();
}
