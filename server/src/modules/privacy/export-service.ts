/**
 * Data exports: one request per hour per user; a background job (the JobQueue) builds
 * the archive, stores it envelope-encrypted under the user's data key and mails a link
 * carrying a random single-use token (only its SHA-256 stored). The archive can be
 * downloaded once, within 24 hours; then it is deleted.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError, retryLater } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import { constantTimeEqual, generateToken, hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { Mailer } from '../../platform/mail/mailer.js';
import type { JobQueue } from '../../platform/queue/queue.js';
import { compose } from '../auth/mail-templates.js';
import { buildExportArchive } from './export-archive.js';
import * as repo from './export-repo.js';

export const EXPORT_JOB = 'privacy-export';
export const EXPORT_INTERVAL_MS = 60 * 60 * 1000;
export const EXPORT_LINK_TTL_MS = 24 * 60 * 60 * 1000;

const archiveBinding = (id: string) => ({ table: 'data_exports', column: 'archive', rowId: id });

export interface ExportView {
  id: string;
  status: 'pending' | 'ready' | 'downloaded' | 'expired' | 'failed';
  sizeBytes: number | null;
  createdAt: string;
  completedAt: string | null;
  expiresAt: string | null;
  downloadedAt: string | null;
}

export interface ExportDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  logger: Logger;
  mailer: Mailer;
  queue: JobQueue;
  publicUrl: string;
}

export class ExportService {
  constructor(private readonly deps: ExportDeps) {}

  /** Consumes export jobs in this process. */
  start(): void {
    this.deps.queue.process<{ exportId: string }>(EXPORT_JOB, async (job) => this.build(job.data.exportId), { concurrency: 1 });
    this.deps.queue.onFailure((event) => {
      const data = event.job.data as { exportId?: unknown };
      if (!event.final || event.job.name !== EXPORT_JOB || typeof data.exportId !== 'string') return;
      this.deps.logger.error({ err: event.error, exportId: data.exportId }, 'data export failed');
      void repo.failExport(this.deps.db, data.exportId, this.deps.clock.now()).catch(() => undefined);
    });
  }

  /** Starts an export; at most one per EXPORT_INTERVAL_MS (429 with Retry-After). */
  async request(userId: string): Promise<ExportView> {
    const now = this.deps.clock.now();
    const latest = await repo.latestExport(this.deps.db, userId);
    if (latest && now.getTime() - latest.created_at.getTime() < EXPORT_INTERVAL_MS) {
      throw retryLater('rate_limited', (wait) => `You can request one data export per hour; try again ${wait}.`, latest.created_at.getTime() + EXPORT_INTERVAL_MS - now.getTime());
    }
    const id = randomUUID();
    await repo.insertExport(this.deps.db, { id, user_id: userId, created_at: now });
    // The job carries only the export id: no personal data sits in the queue.
    await this.deps.queue.add(EXPORT_JOB, { exportId: id }, { jobId: `export-${id}`, attempts: 3 });
    return { id, status: 'pending', sizeBytes: null, createdAt: now.toISOString(), completedAt: null, expiresAt: null, downloadedAt: null };
  }

  async list(userId: string): Promise<ExportView[]> {
    const now = this.deps.clock.now();
    return (await repo.listExports(this.deps.db, userId)).map((row) => ({
      id: row.id,
      status: row.status === 'ready' && row.expires_at && row.expires_at <= now ? 'expired' : row.status,
      sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
      createdAt: row.created_at.toISOString(),
      completedAt: row.completed_at?.toISOString() ?? null,
      expiresAt: row.expires_at?.toISOString() ?? null,
      downloadedAt: row.downloaded_at?.toISOString() ?? null,
    }));
  }

  /**
   * The archive, once: another user's id or a wrong token is 404; a used or expired
   * link is 410. Two concurrent downloads cannot both succeed (the claim is atomic).
   */
  async download(userId: string, id: string, token: string): Promise<Buffer> {
    const row = await repo.findUserExport(this.deps.db, userId, id);
    if (!row?.token_hash || !constantTimeEqual(row.token_hash, hashToken(token))) throw new AppError('not_found', 'No such export, or the link is wrong.');
    const now = this.deps.clock.now();
    const archive = row.archive;
    if (row.status !== 'ready' || !archive || !row.expires_at || row.expires_at <= now || !(await repo.claimDownload(this.deps.db, id, now))) {
      throw new AppError('export_expired', 'This export was already downloaded or has expired; request a new one.');
    }
    return this.deps.encryptor.decrypt(archiveBinding(id), archive);
  }

  /** The job: builds, encrypts and stores the archive, then mails the link. */
  async build(exportId: string): Promise<void> {
    const row = await repo.findExport(this.deps.db, exportId);
    if (!row || row.status !== 'pending') return; // erased or already done: nothing to do
    const now = this.deps.clock.now();
    const zip = await buildExportArchive(this.deps.db, this.deps.encryptor, row.user_id, now);
    const archive = await this.deps.encryptor.encrypt({ scope: 'user', id: row.user_id }, archiveBinding(exportId), Buffer.from(zip));
    const { token, hash } = generateToken('export');
    const expiresAt = new Date(now.getTime() + EXPORT_LINK_TTL_MS);
    if (!(await repo.completeExport(this.deps.db, exportId, { token_hash: hash, archive, size_bytes: zip.byteLength, completed_at: now, expires_at: expiresAt }))) return;
    const user = await this.deps.db.selectFrom('users').select('email').where('id', '=', row.user_id).executeTakeFirst();
    if (!user) return;
    // The token travels in the fragment: it never reaches a server log or a Referer.
    const link = `${this.deps.publicUrl}/exports#${new URLSearchParams({ id: exportId, token }).toString()}`;
    await this.deps.mailer.send(compose(user.email, 'Your Bastion data export is ready', ['The export of your Bastion data is ready. The link works once, for 24 hours, while you are signed in.'], { url: link, label: 'Download my data' }));
    this.deps.logger.info({ exportId, sizeBytes: zip.byteLength }, 'data export ready');
  }
}
