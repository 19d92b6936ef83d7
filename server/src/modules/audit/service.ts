/**
 * The audit log (ASVS 16.2.1, GDPR Art. 30/33): who did what to which resource, when,
 * from where, in which request. Entries form a SHA-256 hash chain appended under a
 * transaction-level advisory lock; signed checkpoints every `checkpointEvery` entries and
 * every `checkpointIntervalMs` anchor its head. See chain.ts for the encoding and
 * docs/security-model.md for the controls around it.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { Actor, AuditActor } from './actor.js';
import { entryHash, GENESIS_HASH, newSalt, personalDigest, signCheckpoint } from './chain.js';
import type { AuditKeys } from './keys.js';
import * as repo from './repo.js';

export type { Actor, ActorType, AuditActor } from './actor.js';

export interface AuditEntryInput {
  actor: AuditActor;
  /** Dotted lower-case name, e.g. `workspace.member.removed`. */
  action: string;
  target?: { type: string; id?: string | null | undefined } | undefined;
  workspaceId?: string | null | undefined;
  /** The person the action was about, when it is a person (pseudonymisable). */
  subjectId?: string | null | undefined;
  requestId?: string | null | undefined;
  /** What changed; never secrets (values under secret-looking keys are replaced). */
  details?: Record<string, unknown> | undefined;
}

/** What an actor did: an entry without its actor and request. */
export type AuditEvent = Omit<AuditEntryInput, 'actor' | 'requestId'>;

export interface AuditSettings {
  /** Write a checkpoint when an append reaches a multiple of this sequence number. */
  checkpointEvery: number;
  /** And at this interval when entries were added since the last one; 0: never on a timer. */
  checkpointIntervalMs: number;
}

export const PSEUDONYM_PREFIX = 'pseudonym:';
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,5}$/;
// jsonb refuses NUL and unpaired surrogates; replacing them keeps the hashed text and the stored one equal.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const SECRET_KEY = /pass(word)?|secret|token|api_?key|credential|private/i;

export class AuditLog {
  /** Transactions holding an entry whose sequence number calls for a checkpoint once they commit. */
  private readonly due = new WeakSet<Db>();

  constructor(
    private readonly db: Db,
    private readonly keys: AuditKeys,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: AuditSettings,
  ) {}

  /**
   * Appends one entry. With a transaction, the entry commits or rolls back with it (and
   * holds the chain lock until then: keep audited transactions short); otherwise it is
   * its own transaction. Returns the entry's sequence number and hash.
   */
  async record(input: AuditEntryInput, trx?: Db): Promise<{ seq: number; hash: string }> {
    if (!ACTION.test(input.action) || input.action.length > 100) throw new Error(`invalid audit action "${input.action}"`);
    const write = async (db: Db) => {
      await repo.lockChain(db);
      const top = await repo.head(db);
      const seq = top ? Number(top.seq) + 1 : 1;
      const prevHash = top?.hash ?? GENESIS_HASH;
      const personal = { actorId: input.actor.userId, actorIp: input.actor.ip ?? null, subjectId: input.subjectId ?? null };
      const salt = newSalt();
      const chained = {
        seq,
        at: this.clock.now(),
        actorType: input.actor.type,
        actorKeyId: input.actor.keyId ?? null,
        action: input.action,
        targetType: input.target?.type ?? null,
        targetId: input.target?.id ?? null,
        workspaceId: input.workspaceId ?? null,
        requestId: input.requestId ?? null,
        details: jsonSafe(input.details ?? {}),
        personalDigest: personalDigest(salt, personal),
        prevHash,
      };
      const hash = entryHash(chained);
      await repo.insertEntry(db, {
        seq: String(seq),
        at: chained.at,
        actor_type: chained.actorType,
        actor_key_id: chained.actorKeyId,
        action: chained.action,
        target_type: chained.targetType,
        target_id: chained.targetId,
        workspace_id: chained.workspaceId,
        request_id: chained.requestId,
        details: JSON.stringify(chained.details),
        personal_digest: chained.personalDigest,
        prev_hash: prevHash,
        hash,
        actor_id: personal.actorId,
        actor_ip: personal.actorIp,
        subject_id: personal.subjectId,
        personal_salt: salt,
      });
      return { seq, hash };
    };
    if (trx) {
      const written = await write(trx);
      if (this.isCheckpointDue(written.seq)) this.due.add(trx);
      return written;
    }
    const written = await this.db.transaction().execute(write);
    if (this.isCheckpointDue(written.seq)) await this.checkpointQuietly();
    return written;
  }

  /**
   * Appends the entry for a change `actor` made, inside the change's transaction `trx`:
   * the change and its entry commit or roll back together. Append last in the transaction
   * (it holds the chain lock until the end) and run it through `transaction()`.
   */
  async append(trx: Db, actor: Actor, event: AuditEvent): Promise<void> {
    await this.record(entryOf(actor, event), trx);
  }

  /**
   * Runs `work` in one transaction of the log's database, for changes audited with
   * `append(trx, …)`; after the commit, signs the checkpoint an appended entry called for.
   */
  async transaction<T>(work: (trx: Db) => Promise<T>): Promise<T> {
    let used: Db | undefined;
    const result = await this.db.transaction().execute((trx) => {
      used = trx;
      return work(trx);
    });
    if (used && this.due.delete(used)) await this.checkpointQuietly();
    return result;
  }

  /** Entries with seq > after, oldest first, at most `limit`, for an administrator: the read is itself recorded (`admin.audit.read`). */
  async read(actor: Actor, after: number, limit: number): Promise<repo.AuditEntryRow[]> {
    const rows = await this.entries(after, limit);
    await this.record(entryOf(actor, { action: 'admin.audit.read', details: { after, count: rows.length } }));
    return rows;
  }

  /** Records an action that changes nothing (a read of sensitive data) in its own transaction. */
  async recordAction(actor: Actor, event: AuditEvent): Promise<void> {
    await this.record(entryOf(actor, event));
  }

  private isCheckpointDue(seq: number): boolean {
    return seq % this.settings.checkpointEvery === 0;
  }

  /** The entry is safe already; a failed checkpoint is retried by the next one or the timer. */
  private async checkpointQuietly(): Promise<void> {
    await this.checkpoint().catch((error: unknown) => this.logger.error({ err: error }, 'audit checkpoint failed'));
  }

  /** Signs the head of the chain unless it is signed already; returns the new checkpoint or null. */
  async checkpoint(): Promise<{ seq: number; hash: string } | null> {
    const { id, key } = await this.keys.current(); // outside the transaction: PGlite has one session
    const made = await this.db.transaction().execute(async (trx) => {
      await repo.lockChain(trx);
      const top = await repo.head(trx);
      if (!top || Number(top.seq) <= (await repo.lastCheckpointSeq(trx))) return null;
      const fields = { seq: Number(top.seq), hash: top.hash, at: this.clock.now(), keyId: id };
      await repo.insertCheckpoint(trx, { seq: top.seq, hash: top.hash, at: fields.at, key_id: id, signature: signCheckpoint(key, fields) });
      return { seq: fields.seq, hash: fields.hash };
    });
    // Logs are shipped off-host: this line is an anchor outside the database too.
    if (made) this.logger.info({ auditCheckpoint: made }, 'audit checkpoint');
    return made;
  }

  /** Entries with after < seq ≤ to, oldest first, at most `limit`. */
  entries(after: number, limit: number, to?: number): Promise<repo.AuditEntryRow[]> {
    return repo.entriesAfter(this.db, after, limit, to);
  }

  /** Checkpoints on a timer until the returned function is called. */
  startSchedule(): () => void {
    if (this.settings.checkpointIntervalMs <= 0) return () => undefined;
    const timer = setInterval(() => {
      this.checkpoint().catch((error: unknown) => this.logger.error({ err: error }, 'audit checkpoint failed'));
    }, this.settings.checkpointIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * For account erasure (privacy module), inside its transaction: pseudonymises the
   * user's entries and records that the account was erased, naming only the pseudonym.
   */
  async eraseUser(trx: Db, userId: string, pseudonym: string): Promise<void> {
    const stored = await pseudonymiseActor(trx, userId, pseudonym, this.clock.now());
    await this.record({ actor: { type: 'system', userId: null }, action: 'user.erased', subjectId: stored }, trx);
  }
}

/**
 * The only permitted change to the audit log: replaces `userId` wherever it is a personal
 * field (actor or subject) by `pseudonym` (stored as `pseudonym:<pseudonym>`), clears the
 * IPs of what the user did and drops those entries' salts. The chain keeps verifying:
 * it covers the personal fields only through their salted digest. Returns the stored value.
 */
export async function pseudonymiseActor(db: Db, userId: string, pseudonym: string, now: Date = new Date()): Promise<string> {
  const stored = pseudonym.startsWith(PSEUDONYM_PREFIX) ? pseudonym : `${PSEUDONYM_PREFIX}${pseudonym}`;
  if (db.isTransaction) await repo.pseudonymise(db, userId, stored, now);
  else await db.transaction().execute((trx) => repo.pseudonymise(trx, userId, stored, now));
  return stored;
}

/**
 * For retention (RETENTION_AUDIT_DAYS): pseudonymises every entry written before `cutoff`
 * that still holds personal fields, in batches of `batch` (one transaction each). Actors
 * and subjects become `pseudonym:expired` (there is no one left to link them to), IPs
 * are cleared; the chain keeps verifying. Returns how many entries changed.
 */
export async function pseudonymiseBefore(db: Db, cutoff: Date, now: Date = new Date(), batch = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const changed = await db.transaction().execute((trx) => repo.pseudonymiseBefore(trx, cutoff, `${PSEUDONYM_PREFIX}expired`, now, batch));
    total += changed;
    if (changed < batch) return total;
  }
}

function entryOf(actor: Actor, event: AuditEvent): AuditEntryInput {
  const { requestId, ...who } = actor;
  const auditActor: AuditActor = who;
  return { ...event, actor: auditActor, requestId: requestId ?? null };
}

/** A copy that survives jsonb unchanged: finite numbers, no NUL, no undefined, no secrets. */
function jsonSafe(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key)) return '[redacted]';
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return value.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => jsonSafe(item));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = jsonSafe(v, k);
    return out;
  }
  return null;
}
