/** The Mailer contract on both implementations: a real SMTP exchange and the outbox. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, testDatabase, testKeyring } from '../../../test/harness.js';
import { SmtpSink } from '../../../test/smtp-sink.js';
import { systemClock } from '../clock.js';
import { Encryptor } from '../crypto/envelope.js';
import { OutboxMailer, readOutbox, SmtpMailer, type MailMessage } from './mailer.js';

const message: MailMessage = {
  to: 'ada@example.org',
  subject: 'Reset your Bastion password',
  text: 'Open https://bastion.example.org/reset-password#token=bst_reset_abc within 30 minutes.',
  html: '<p>Open <a href="https://bastion.example.org/reset-password#token=bst_reset_abc">this link</a>.</p>',
};

describe('SmtpMailer', () => {
  const sink = new SmtpSink();
  let url: string;
  beforeAll(async () => {
    url = await sink.start();
  });
  afterAll(async () => {
    await sink.stop();
  });

  it('delivers text and HTML parts over SMTP', async () => {
    const mailer = new SmtpMailer(url, 'Bastion <noreply@bastion.test>');
    await mailer.send(message);
    const received = await sink.next('ada@example.org', /Reset your Bastion password/);
    expect(received.text.trim()).toBe(message.text);
    expect(received.html).toContain('reset-password#token=bst_reset_abc');
    expect(received.raw.from?.text).toContain('noreply@bastion.test');
    await mailer.close();
  });

  it('fails (rather than hanging) when the server is unreachable', async () => {
    const mailer = new SmtpMailer('smtp://127.0.0.1:1', 'Bastion <noreply@bastion.test>');
    await expect(mailer.send(message)).rejects.toThrow();
    await mailer.close();
  });
});

describe('OutboxMailer', () => {
  it('stores the mail encrypted and reads it back', async () => {
    const database = await testDatabase();
    const encryptor = new Encryptor(database.db, testKeyring);
    const mailer = new OutboxMailer(database.db, encryptor, systemClock, silentLogger);
    await mailer.send(message);
    const [mail] = await readOutbox(database.db, encryptor);
    expect(mail).toMatchObject({ to: message.to, subject: message.subject, text: message.text, html: message.html });
    const raw = await database.db.selectFrom('mail_outbox').select(['text_body', 'html_body']).executeTakeFirstOrThrow();
    expect(Buffer.from(raw.text_body).toString('utf8')).not.toContain('bst_reset_abc');
  });
});
