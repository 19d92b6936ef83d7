/**
 * Organising one's conversations: rename (the title sealed like the first one), pin,
 * archive, and delete with undo. A deletion only marks the conversation: it leaves every
 * list and read at once and its owner can restore it for RESTORE_WINDOW_MS; after that
 * the purge (purge.ts) deletes it with its messages. Each change is one conditional
 * UPDATE on the owner's live row, so concurrent requests never leave a mixed state, and a
 * conversation that is not the caller's is `not_found` like one that does not exist.
 */
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceContext } from '../workspaces/service.js';
import { openConversation, type Conversation } from './conversation.js';
import * as repo from './repo.js';
import { MessageSealing } from './sealing.js';

/** How long a deleted conversation can be restored (the web app offers Undo for 10 s of it). */
export const RESTORE_WINDOW_MS = 30_000;

export interface ConversationChanges {
  title?: string | undefined;
  pinned?: boolean | undefined;
  archived?: boolean | undefined;
}

export interface OrganiserDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  /** Told of a rename, so the new title is searchable at once. */
  searchIndex?: { nudge(): void };
}

export class ConversationOrganiser {
  private readonly sealing: MessageSealing;

  constructor(private readonly deps: OrganiserDeps) {
    this.sealing = new MessageSealing(deps.encryptor);
  }

  private owner(context: WorkspaceContext): repo.Owner {
    return { workspaceId: context.workspaceId, userId: context.userId };
  }

  /** Applies the changes together; the title is sealed under the workspace's key, bound to this conversation. */
  async organise(context: WorkspaceContext, id: string, changes: ConversationChanges): Promise<Conversation> {
    const title = changes.title === undefined ? undefined : await this.sealing.sealTitle(context.workspaceId, id, changes.title);
    const row = await repo.organiseConversation(this.deps.db, this.owner(context), id, { title, pinned: changes.pinned, archived: changes.archived }, this.deps.clock.now());
    if (!row) throw new AppError('not_found', 'No such conversation.');
    if (title) this.deps.searchIndex?.nudge();
    return openConversation(this.sealing, row);
  }

  /** Deletes the conversation, restorable until the time returned. */
  async remove(context: WorkspaceContext, id: string): Promise<{ restorableUntil: Date }> {
    const now = this.deps.clock.now();
    if (!(await repo.markDeleted(this.deps.db, this.owner(context), id, now))) throw new AppError('not_found', 'No such conversation.');
    return { restorableUntil: new Date(now.getTime() + RESTORE_WINDOW_MS) };
  }

  /**
   * Undoes a deletion within the window. Restoring a conversation that is not deleted
   * answers it as it is (a repeated Undo); past the window it is `not_found`, as after the purge.
   */
  async restore(context: WorkspaceContext, id: string): Promise<Conversation> {
    const since = new Date(this.deps.clock.now().getTime() - RESTORE_WINDOW_MS);
    const row = await repo.restoreDeleted(this.deps.db, this.owner(context), id, since);
    if (!row) throw new AppError('not_found', 'No such conversation, or it was deleted too long ago to restore.');
    return openConversation(this.sealing, row);
  }
}
