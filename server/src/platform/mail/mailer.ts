/**
 * Outgoing mail: SMTP (nodemailer) when SMTP_URL is set, otherwise the outbox table
 * plus a log line (embedded default). Both pass the contract in mailer.contract.test.ts.
 */
import { randomUUID } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { Encryptor } from '../crypto/envelope.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

export class SmtpMailer implements Mailer {
  readonly kind = 'smtp';
  private readonly transport: Transporter;

  constructor(
    url: string,
    private readonly from: string,
  ) {
    const parsed = new URL(url);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    const secure = parsed.protocol === 'smtps:';
    const options: SMTPTransport.Options = {
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: parsed.port ? Number(parsed.port) : secure ? 465 : 587,
      secure,
      // Off loopback, refuse to send credentials or mail over an unencrypted channel.
      requireTLS: !secure && !loopback,
      ignoreTLS: !secure && loopback,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
      ...(parsed.username ? { auth: { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } } : {}),
    };
    this.transport = nodemailer.createTransport(options);
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...message });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/** Where the outbox encrypts a mail body (mails carry single-use links). */
export const outboxBinding = (id: string, column: 'text_body' | 'html_body') => ({ table: 'mail_outbox', column, rowId: id });

export class OutboxMailer implements Mailer {
  readonly kind = 'outbox';

  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async send(message: MailMessage): Promise<void> {
    const id = randomUUID();
    const owner = { scope: 'instance' } as const;
    await this.db
      .insertInto('mail_outbox')
      .values({
        id,
        to_address: message.to,
        subject: message.subject,
        text_body: await this.encryptor.encrypt(owner, outboxBinding(id, 'text_body'), message.text),
        html_body: await this.encryptor.encrypt(owner, outboxBinding(id, 'html_body'), message.html),
        created_at: this.clock.now(),
      })
      .execute();
    this.logger.info({ outboxId: id, to: message.to, subject: message.subject }, 'mail written to the outbox (read it with `bastion mail outbox`)');
  }

  async close(): Promise<void> {}
}

export interface OutboxMail extends MailMessage {
  id: string;
  createdAt: Date;
}

/** The newest outbox mails, decrypted (for `bastion mail outbox` and tests). */
export async function readOutbox(db: Db, encryptor: Encryptor, limit = 20): Promise<OutboxMail[]> {
  const rows = await db.selectFrom('mail_outbox').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
  return Promise.all(
    rows.map(async (row) => ({
      id: row.id,
      to: row.to_address,
      subject: row.subject,
      text: await encryptor.decryptText(outboxBinding(row.id, 'text_body'), Buffer.from(row.text_body)),
      html: await encryptor.decryptText(outboxBinding(row.id, 'html_body'), Buffer.from(row.html_body)),
      createdAt: row.created_at,
    })),
  );
}
