/** The `Mail` group. Outgoing mail (or the outbox when SMTP_URL is unset). */
import { z } from 'zod';
import { url, type Variable } from '../variable.js';

export const mailVariables = {
  SMTP_URL: {
    group: 'Mail',
    schema: url(['smtp', 'smtps']).optional(),
    doc: 'SMTP server for outgoing mail (smtp://user:pass@host:587 uses STARTTLS; smtps:// is TLS). Unset: mail goes to the outbox table and the log.',
    example: '',
    secret: true,
  },
  MAIL_FROM: {
    group: 'Mail',
    schema: z.string().min(3).max(200).default('Bastion <bastion@localhost>'),
    doc: 'From address of outgoing mail.',
  },
} satisfies Record<string, Variable>;
