/**
 * Sharing a conversation read-only with the members of its workspace. Its author creates
 * one link (an unguessable id), sees it and revokes it; any current member of the
 * workspace who may chat reads the conversation through it — title, messages and the
 * passages they cite, nothing else. Never public: reading checks the reader's membership
 * of the share's workspace on every request (the membership cache is dropped when a
 * member is removed), and every failure — unknown, malformed or revoked id, deleted
 * conversation, an author or reader outside the workspace — is the same `not_found`.
 * Creating, revoking and viewing are audited (ids only, never message text).
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { Actor, AuditLog } from '../audit/service.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import { EXPORT_MESSAGES_LIMIT } from './export.js';
import * as repo from './repo.js';
import { MessageSealing } from './sealing.js';
import * as shares from './share-repo.js';

/** 16 random bytes in base64url: what a share id looks like; anything else is not one. */
export const SHARE_ID = /^[A-Za-z0-9_-]{22}$/;

export interface Share {
  id: string;
  conversationId: string;
  createdAt: Date;
}

export interface SharedMessage {
  role: repo.MessageRow['role'];
  text: string;
  status: repo.MessageRow['status'];
  createdAt: Date;
  citations: { marker: string; source: string; text: string; score: number }[];
}

export interface SharedConversation {
  title: string | null;
  sharedBy: string;
  sharedAt: Date;
  messages: SharedMessage[];
}

export interface ShareDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  audit: AuditLog;
  workspaces: Pick<WorkspaceService, 'membership' | 'require'>;
}

const notShared = (): AppError => new AppError('not_found', 'No such shared conversation, or it is no longer shared with you.');
const shareOf = (row: shares.ShareRow): Share => ({ id: row.id, conversationId: row.conversation_id, createdAt: row.created_at });

export class ConversationSharing {
  private readonly sealing: MessageSealing;

  constructor(private readonly deps: ShareDeps) {
    this.sealing = new MessageSealing(deps.encryptor);
  }

  private owner(context: WorkspaceContext): repo.Owner {
    return { workspaceId: context.workspaceId, userId: context.userId };
  }

  /** Shares the caller's conversation, or answers its active share; `created` tells which. */
  async share(context: WorkspaceContext, conversationId: string, by: Actor): Promise<{ share: Share; created: boolean }> {
    const owner = this.owner(context);
    // A revoke between the insert that found a share and the read of it: try again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = await this.deps.audit.transaction(async (trx) => {
        const row = await shares.insertShare(trx, owner, conversationId, randomBytes(16).toString('base64url'), this.deps.clock.now());
        if (row) await this.deps.audit.append(trx, by, { action: 'conversation.shared', workspaceId: row.workspace_id, target: { type: 'conversation_share', id: row.id }, details: { conversationId } });
        return row;
      });
      if (created) return { share: shareOf(created), created: true };
      const existing = await shares.findActiveShare(this.deps.db, owner, conversationId);
      if (existing) return { share: shareOf(existing), created: false };
      if (!(await repo.findConversation(this.deps.db, owner, conversationId))) break;
    }
    throw new AppError('not_found', 'No such conversation.');
  }

  /** The active share of the caller's conversation, or null when it is not shared. */
  async status(context: WorkspaceContext, conversationId: string): Promise<Share | null> {
    const owner = this.owner(context);
    const row = await shares.findActiveShare(this.deps.db, owner, conversationId);
    if (row) return shareOf(row);
    if (!(await repo.findConversation(this.deps.db, owner, conversationId))) throw new AppError('not_found', 'No such conversation.');
    return null;
  }

  /** Stops sharing; false when it was not shared (a repeated revoke). */
  async revoke(context: WorkspaceContext, conversationId: string, by: Actor): Promise<boolean> {
    const owner = this.owner(context);
    const revoked = await this.deps.audit.transaction(async (trx) => {
      const row = await shares.revokeShare(trx, owner, conversationId, this.deps.clock.now());
      if (row) await this.deps.audit.append(trx, by, { action: 'conversation.share_revoked', workspaceId: row.workspace_id, target: { type: 'conversation_share', id: row.id }, details: { conversationId } });
      return row;
    });
    if (revoked) return true;
    if (!(await repo.findConversation(this.deps.db, owner, conversationId))) throw new AppError('not_found', 'No such conversation.');
    return false;
  }

  /** The shared conversation, for a current member of its workspace who may chat. */
  async view(userId: string, shareId: string, by: Actor): Promise<SharedConversation> {
    if (!SHARE_ID.test(shareId)) throw notShared();
    const row = await shares.findViewableShare(this.deps.db, shareId);
    if (!row) throw notShared();
    try {
      this.deps.workspaces.require(await this.deps.workspaces.membership(userId, row.workspace_id), 'chat.use');
    } catch (error) {
      // Outside the workspace (or not allowed to read chats there): as if there were no share.
      if (error instanceof AppError && (error.code === 'not_found' || error.code === 'forbidden')) throw notShared();
      throw error;
    }
    const rows = await repo.listMessages(this.deps.db, row.workspace_id, row.conversation_id, false, EXPORT_MESSAGES_LIMIT);
    const messages = await Promise.all(
      rows.map(async (m): Promise<SharedMessage> => {
        const content = await this.sealing.openContent(m);
        return { role: m.role, text: content.text, status: m.status, createdAt: m.created_at, citations: content.citations.map((p) => ({ marker: p.id, source: p.source, text: p.text, score: p.score })) };
      }),
    );
    await this.deps.audit.record({
      actor: by,
      requestId: by.requestId,
      action: 'conversation.share_viewed',
      workspaceId: row.workspace_id,
      target: { type: 'conversation_share', id: row.id },
      details: { conversationId: row.conversation_id },
    });
    return { title: row.title ? await this.sealing.openTitle(row.conversation_id, row.title) : null, sharedBy: row.author_name, sharedAt: row.created_at, messages };
  }
}
