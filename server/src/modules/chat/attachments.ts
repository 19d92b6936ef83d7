/**
 * Files attached to a conversation: its own hidden knowledge base (knowledge_bases.conversation_id,
 * migration 0025), made on the first attachment, filled through the knowledge intake and
 * ingestion (type from content, size, scans, bounded extraction) and searched with the
 * agent's bases when the conversation's agent answers. Only the conversation's owner
 * reaches it; anyone else gets 404, as for a missing conversation. Deleting the conversation
 * deletes the base, its documents, originals and chunks by cascade.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { sql } from 'kysely';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { Actor } from '../audit/actor.js';
import type { DocumentRow, KnowledgeService } from '../knowledge/service.js';
import type { WorkspaceContext } from '../workspaces/service.js';

export interface AttachmentDeps {
  db: Db;
  clock: Clock;
  knowledge: Pick<KnowledgeService, 'attach' | 'attachedDocuments' | 'removeAttached'>;
}

/** The base of attachments of a live conversation of the caller's (undefined: none yet, or not theirs). */
export async function attachmentBaseId(db: Db, owner: { workspaceId: string; userId: string }, conversationId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('knowledge_bases as kb')
    .innerJoin('conversations as c', 'c.id', 'kb.conversation_id')
    .select('kb.id')
    .where('c.id', '=', conversationId)
    .where('c.workspace_id', '=', owner.workspaceId)
    .where('c.user_id', '=', owner.userId)
    .where('c.deleted_at', 'is', null)
    .executeTakeFirst();
  return row?.id;
}

export class ConversationAttachments {
  constructor(private readonly deps: AttachmentDeps) {}

  private owner(context: WorkspaceContext) {
    return { workspaceId: context.workspaceId, userId: context.userId };
  }

  /**
   * The conversation's base, made if it has none: one INSERT … SELECT that only finds the
   * caller's live conversation, and the unique index makes concurrent first attachments share one base.
   */
  private async ensureBase(context: WorkspaceContext, conversationId: string): Promise<string> {
    const now = this.deps.clock.now();
    await sql`
      insert into knowledge_bases (id, workspace_id, name, description, created_by, created_at, updated_at, conversation_id)
      select ${randomUUID()}, c.workspace_id, 'Attachments', '', ${context.userId}, ${now}, ${now}, c.id
      from conversations c
      where c.id = ${conversationId} and c.workspace_id = ${context.workspaceId} and c.user_id = ${context.userId} and c.deleted_at is null
      on conflict (conversation_id) where conversation_id is not null do nothing`.execute(this.deps.db);
    const id = await attachmentBaseId(this.deps.db, this.owner(context), conversationId);
    if (!id) throw new AppError('not_found', 'No such conversation.');
    return id;
  }

  private async existingBase(context: WorkspaceContext, conversationId: string): Promise<string | undefined> {
    const id = await attachmentBaseId(this.deps.db, this.owner(context), conversationId);
    if (id) return id;
    const live = await this.deps.db
      .selectFrom('conversations')
      .select('id')
      .where('id', '=', conversationId)
      .where('workspace_id', '=', context.workspaceId)
      .where('user_id', '=', context.userId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!live) throw new AppError('not_found', 'No such conversation.');
    return undefined;
  }

  /** Checks and stores the file; it is ingested in the background (processing → ready or failed). */
  async attach(context: WorkspaceContext, conversationId: string, part: { filename: string; mimetype?: string | undefined; stream: Readable }, actor: Actor): Promise<DocumentRow> {
    const baseId = await this.ensureBase(context, conversationId);
    return this.deps.knowledge.attach(context, baseId, part, actor);
  }

  async list(context: WorkspaceContext, conversationId: string): Promise<DocumentRow[]> {
    const baseId = await this.existingBase(context, conversationId);
    return baseId ? this.deps.knowledge.attachedDocuments(context, baseId) : [];
  }

  /** Deletes the document with its original, chunks and index entries. */
  async remove(context: WorkspaceContext, conversationId: string, documentId: string, actor: Actor): Promise<void> {
    const baseId = await this.existingBase(context, conversationId);
    if (!baseId || !(await this.deps.knowledge.removeAttached(context, baseId, documentId, actor, { conversationId }))) throw new AppError('not_found', 'No such attachment.');
  }
}
