/** A real SMTP server on loopback that keeps every message it receives, parsed. */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './harness.js';

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  raw: ParsedMail;
}

export class SmtpSink {
  readonly mails: ReceivedMail[] = [];
  private readonly server: SMTPServer;

  constructor() {
    this.server = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream)
          .then((mail) => {
            const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
            this.mails.push({
              to: to?.value[0]?.address ?? '',
              subject: mail.subject ?? '',
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : '',
              raw: mail,
            });
            callback();
          })
          .catch(callback);
      },
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.server.address() as AddressInfo;
    return `smtp://127.0.0.1:${port}`;
  }

  /** Waits for a mail to `to` whose subject matches, and returns it. */
  async next(to: string, subject: RegExp, timeoutMs = 5_000): Promise<ReceivedMail> {
    let found: ReceivedMail | undefined;
    await waitFor(
      async () => {
        found = this.mails.find((m) => m.to === to && subject.test(m.subject));
        return found !== undefined;
      },
      timeoutMs,
      20,
    );
    if (!found) throw new Error(`no mail to ${to} matching ${subject} (got: ${this.mails.map((m) => `${m.to}: ${m.subject}`).join('; ')})`);
    this.mails.splice(this.mails.indexOf(found), 1);
    return found;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
