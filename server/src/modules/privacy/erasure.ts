/**
 * Account erasure (GDPR Art. 17). A request re-authenticates the owner, schedules the
 * erasure after ERASURE_GRACE_DAYS and ends every other session; the owner may cancel
 * until then. The privacy job then erases each due account in one transaction:
 *
 * - personal workspace and shared workspaces left without members: deleted with
 *   everything in them (agents, conversations, documents, chunks, usage…);
 * - shared workspaces with other members: ownership passes to the best remaining
 *   member (admin before member before viewer, oldest first); the workspace's content
 *   stays with it (the `created_by` of what the user made there becomes null, and their
 *   name and email are taken out of the workspace's name), but their own conversations
 *   in it go;
 * - the user's and the deleted workspaces' data keys are destroyed (crypto-shredding:
 *   backups of their ciphertexts become unreadable once the master key that wrapped
 *   those keys is retired — docs/security-model.md);
 * - security events about the user, mail queued to them, invitations naming them, and
 *   the account with every row that references it;
 * - audit entries that must be kept are pseudonymised (modules/audit);
 * - afterwards the store keys that name the user or their sessions and agents.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors.js';
import { RATE_LIMIT_POLICIES } from '../../http/rate-limit.js';
import type { Db } from '../../platform/db/database.js';
import type { Store } from '../../platform/store/store.js';
import type { AuthDeps } from '../auth/deps.js';
import { compose } from '../auth/mail-templates.js';
import { verifySecondFactor } from '../auth/mfa-service.js';
import { verifyPassword } from '../auth/passwords.js';
import { accountKey } from '../auth/throttle.js';
import type { UserRow } from '../users/service.js';
import * as repo from './erasure-repo.js';
import type { EventOrigin } from '../security-events/origin.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface Reauthentication {
  password: string;
  /** TOTP or recovery code; required when two-factor authentication is on. */
  code?: string | undefined;
}

export interface ErasureReport {
  userId: string;
  workspacesDeleted: number;
  workspacesTransferred: number;
  dataKeysShredded: number;
}

/**
 * Proves the signed-in person is the owner: password, and a second factor when enrolled.
 * Failures count toward the sign-in lockout, like sign-in itself (ASVS 6.3.1).
 */
export async function reauthenticate(deps: AuthDeps, user: UserRow, input: Reauthentication, ip: string): Promise<void> {
  const account = accountKey(user.email);
  const attempt = await deps.throttle.begin(account, ip);
  if (!(await verifyPassword(user.password_hash, input.password))) {
    await deps.throttle.recordFailure(attempt);
    throw new AppError('invalid_credentials', 'Invalid password or code.');
  }
  if (user.totp_enabled_at) {
    if (!input.code) {
      await deps.throttle.releaseForNextFactor(attempt); // the password was right: asking for the code is no failure
      throw new AppError('reauthentication_required', 'Two-factor authentication is on: send a code from your authenticator app (or a recovery code) as `code`.');
    }
    if (!(await verifySecondFactor(deps, user, input.code))) {
      await deps.throttle.recordFailure(attempt);
      throw new AppError('invalid_credentials', 'Invalid password or code.');
    }
  }
  await deps.throttle.recordSuccess(account, attempt);
}

/** Called where audit entries must be kept: replaces the actor by a pseudonym. */
export type PseudonymiseActor = (db: Db, userId: string, pseudonym: string) => Promise<void>;

export interface ErasureOptions {
  graceDays: number;
  /** Pseudonymises the person's audit entries inside the erasure transaction (modules/audit: AuditLog.eraseUser). */
  pseudonymiseActor?: PseudonymiseActor | undefined;
  /** Told after an erasure changed roles or deleted workspaces (the workspaces' membership cache). */
  membershipsChanged?: (() => Promise<void>) | undefined;
}

export class ErasureService {
  constructor(
    private readonly deps: AuthDeps,
    private readonly options: ErasureOptions,
  ) {}

  /** Schedules the erasure and ends every session but `keepSessionId`; returns when it will happen. */
  async request(user: UserRow, reauth: Reauthentication, context: { ip: string; sessionId: string; origin?: EventOrigin }): Promise<Date> {
    await reauthenticate(this.deps, user, reauth, context.ip);
    const now = this.deps.clock.now();
    // A repeated request keeps the first date: asking twice never postpones the erasure.
    const scheduledAt = user.erasure_scheduled_at ?? new Date(now.getTime() + this.options.graceDays * DAY_MS);
    await repo.scheduleErasure(this.deps.db, user.id, user.erasure_requested_at ?? now, scheduledAt);
    await this.deps.sessions.revokeAll(user.id, 'erasure_requested', context.sessionId, context.origin);
    this.deps.logger.info({ userId: user.id, scheduledAt }, 'account erasure scheduled');
    this.notify(user.email, 'Your Bastion account will be erased', [
      `Your Bastion account and its data will be erased on ${scheduledAt.toISOString()}.`,
      'Every other session was signed out. To keep the account, sign in before then and cancel the deletion.',
    ]);
    return scheduledAt;
  }

  async cancel(user: UserRow): Promise<void> {
    if (!(await repo.cancelErasure(this.deps.db, user.id, this.deps.clock.now()))) {
      throw new AppError('conflict', 'No account deletion is pending.');
    }
    this.deps.logger.info({ userId: user.id }, 'account erasure cancelled');
    this.notify(user.email, 'The deletion of your Bastion account was cancelled', ['The deletion of your Bastion account was cancelled; nothing was erased.']);
  }

  /** Erases every account whose grace period is over, one transaction each; returns what it did. */
  async runDue(limit = 100): Promise<ErasureReport[]> {
    const reports: ErasureReport[] = [];
    for (let i = 0; i < limit; i++) {
      const report = await this.eraseNext();
      if (!report) break;
      reports.push(report);
    }
    return reports;
  }

  private async eraseNext(): Promise<ErasureReport | null> {
    const now = this.deps.clock.now();
    const outcome = await this.deps.db.transaction().execute(async (trx) => {
      const user = await repo.claimDueErasure(trx, now);
      if (!user) return null;
      return { user, ...(await this.erase(trx, user)) };
    });
    if (!outcome) return null;
    await this.options.membershipsChanged?.();
    await this.deps.users.forgetGateState(outcome.user.id);
    await this.forgetInStore(this.deps.store, outcome.user, outcome.sessionHashes, outcome.apiKeyHashes, outcome.agentIds);
    const report: ErasureReport = {
      userId: outcome.user.id,
      workspacesDeleted: outcome.workspacesDeleted,
      workspacesTransferred: outcome.workspacesTransferred,
      dataKeysShredded: outcome.dataKeysShredded,
    };
    // The id is logged once, as the record that the erasure happened; nothing else about the person.
    this.deps.logger.info(report, 'account erased');
    return report;
  }

  private async erase(trx: Db, user: { id: string; email: string; name: string }) {
    const email = user.email.toLowerCase();
    const sessionHashes = (await repo.sessionHashes(trx, user.id)).map((r) => r.token_hash);
    const apiKeyHashes = (await repo.apiKeyHashes(trx, user.id)).map((r) => r.key_hash);
    const doomed = (await repo.personalWorkspaceIds(trx, user.id)).map((r) => r.id);
    let workspacesTransferred = 0;
    // Roles are read after the lock: an owner stepping down now either went first or waits.
    await repo.lockSharedWorkspaces(trx, user.id);
    for (const { id } of await repo.ownedSharedWorkspaceIds(trx, user.id)) {
      const successor = (await repo.otherMembers(trx, id, user.id))[0];
      if (!successor) {
        doomed.push(id);
      } else {
        if (successor.role !== 'owner') await repo.setMemberRole(trx, id, successor.user_id, 'owner');
        await repo.scrubWorkspaceName(trx, id, user.name, email);
        workspacesTransferred++;
      }
    }
    const agentIds = (await repo.agentIdsIn(trx, doomed)).map((r) => r.id);
    await repo.deleteAgentSecrets(trx, agentIds);
    await repo.deleteWorkspaces(trx, doomed);
    const dataKeysShredded = await repo.deleteDataKeys(trx, user.id, doomed);
    await repo.deleteSecurityEvents(trx, user.id, email);
    await repo.deleteMailTo(trx, email);
    await repo.deleteInvitationsTo(trx, email);
    // Audit entries are kept for their integrity chain; the person in them becomes a pseudonym.
    await this.options.pseudonymiseActor?.(trx, user.id, `erased-${randomUUID()}`);
    await repo.deleteUser(trx, user.id);
    return { sessionHashes, apiKeyHashes, agentIds, workspacesDeleted: doomed.length, workspacesTransferred, dataKeysShredded };
  }

  /**
   * Store keys that name the user, their email (hashed) or what was deleted. Keys made of
   * content hashes (retrieval results, cached model answers) cannot be listed: they are
   * unreachable once the workspace is gone and expire with their TTL (docs/compliance.md).
   */
  private async forgetInStore(store: Store, user: { id: string; email: string }, sessionHashes: string[], apiKeyHashes: string[], agentIds: string[]): Promise<void> {
    const account = accountKey(user.email.toLowerCase());
    // Through the session and key services, so no instance keeps serving one from its cache.
    await Promise.all([this.deps.sessions.evict(sessionHashes), this.deps.apiKeys.evict(apiKeyHashes)]);
    const keys = [
      ...Object.keys(RATE_LIMIT_POLICIES).map((policy) => `rl:${policy}:u:${user.id}`),
      ...['lock', 'locks', 'fail', 'delay'].map((kind) => `auth:${kind}:${account}`),
      `reset:email:${account}`,
      ...agentIds.map((id) => `cache:agent:${id}`),
    ];
    await Promise.all(keys.map((key) => store.delete(key)));
  }

  private notify(to: string, subject: string, lines: string[]): void {
    this.deps.mailer.send(compose(to, subject, lines)).catch((error: unknown) => this.deps.logger.error({ err: error }, 'mail delivery failed'));
  }
}
