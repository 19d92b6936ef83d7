/**
 * What an instance administrator may read about the instance: the settings in force
 * (secrets redacted, config/in-force.ts) and, on the embedded default without SMTP_URL,
 * the newest mails in the outbox. Both reads are recorded in the audit log: outbox mails
 * carry single-use links.
 */
import { settingsInForce, type Config, type SettingInForce } from '../../config/index.js';
import { AppError } from '../../errors.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import { readOutbox, type Mailer } from '../../platform/mail/mailer.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/service.js';

export interface OutboxItem {
  id: string;
  to: string;
  subject: string;
  text: string;
  createdAt: string;
}

export class InstanceAdminService {
  constructor(private readonly deps: { db: Db; encryptor: Encryptor; mailer: Pick<Mailer, 'kind'>; config: Config; audit: AuditLog }) {}

  /** The newest `limit` outbox mails; 409 `conflict` when mail goes out by SMTP (nothing is kept). */
  async outbox(actor: Actor, limit: number): Promise<OutboxItem[]> {
    if (this.deps.mailer.kind !== 'outbox') throw new AppError('conflict', 'Mail is sent through SMTP_URL: there is no outbox to read. Look in the recipients’ mailboxes or the SMTP server’s log.');
    await this.deps.audit.recordAction(actor, { action: 'admin.outbox.read', details: { limit } });
    const mails = await readOutbox(this.deps.db, this.deps.encryptor, limit);
    return mails.map((mail) => ({ id: mail.id, to: mail.to, subject: mail.subject, text: mail.text, createdAt: mail.createdAt.toISOString() }));
  }

  /** Whether this instance keeps an outbox (no SMTP_URL). */
  get hasOutbox(): boolean {
    return this.deps.mailer.kind === 'outbox';
  }

  async settings(actor: Actor): Promise<SettingInForce[]> {
    await this.deps.audit.recordAction(actor, { action: 'admin.settings.read' });
    return settingsInForce(this.deps.config);
  }
}
