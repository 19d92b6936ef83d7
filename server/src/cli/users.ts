/**
 * `bastion users …` and `bastion mail outbox`: account administration from the shell.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../config/index.js';
import { withDatabase } from './database.js';
import { createLogger } from '../platform/log.js';
import { AppError } from '../errors.js';
import { appLink, issueToken, type AuthDeps } from '../modules/auth/deps.js';
import { mails } from '../modules/auth/mail-templates.js';
import { assertPasswordAcceptable, hashPassword } from '../modules/auth/passwords.js';
import { accountKey, LoginThrottle } from '../modules/auth/throttle.js';
import { normalizeEmail } from '../modules/users/email.js';
import { UserService } from '../modules/users/service.js';
import { systemClock } from '../platform/clock.js';
import { Encryptor } from '../platform/crypto/envelope.js';
import { loadKeyring } from '../platform/crypto/keyring.js';
import { OutboxMailer, readOutbox, SmtpMailer } from '../platform/mail/mailer.js';
import { openStore } from '../platform/store/open-store.js';

export const USERS_USAGE = `  users create-admin --email E --name N [--password-stdin]
                   create an administrator (prints a generated password unless one is piped in)
  users invite E   mail an invitation to register (REGISTRATION=invite)
  users unlock E   lift a sign-in lock (needs REDIS_URL: the in-memory store lives in the server)
  mail outbox      show the newest mails in the outbox (embedded default, no SMTP_URL)`;

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function runUsers(config: Config, args: string[]): Promise<number> {
  const [sub, target] = args;
  const logger = createLogger('warn');
  if (sub === 'invite' && new URL(config.PUBLIC_URL).port === '0') {
    // The link would name a port no server listens on (serve picks a free one at each start).
    console.error('bastion users invite: PUBLIC_URL is not set and PORT=0, so the link would have no port the server listens on; set PUBLIC_URL (or PORT) as the server has it');
    return 1;
  }
  return withDatabase(config, async (database) => {
    try {
      const { keyring } = loadKeyring(config, logger);
      const encryptor = new Encryptor(database.db, keyring);
      if (sub === 'create-admin') {
        const email = normalizeEmail(option(args, '--email') ?? '');
        const name = (option(args, '--name') ?? '').trim();
        if (!email.includes('@') || !name) {
          console.error('bastion users create-admin: give --email and --name');
          return 2;
        }
        const generated = !args.includes('--password-stdin');
        const password = generated ? randomBytes(18).toString('base64url') : await readStdin();
        assertPasswordAcceptable(password, { email, name, minLength: config.PASSWORD_MIN_LENGTH });
        const now = new Date();
        const inserted = await new UserService(database.db).create({ id: randomUUID(), email, name, role: 'admin', password_hash: await hashPassword(password), email_verified_at: now, created_at: now });
        if (!inserted) {
          console.error(`bastion users create-admin: an account with ${email} already exists`);
          return 1;
        }
        console.log(`Created administrator ${email}.`);
        if (generated) console.log(`Password (shown once; change it after signing in): ${password}`);
        if (config.REQUIRE_MFA !== 'none') console.log('Two-factor authentication must be set up at first sign-in (REQUIRE_MFA).');
        return 0;
      }
      if (sub === 'invite' && target) {
        const email = normalizeEmail(target);
        const mailer = config.SMTP_URL ? new SmtpMailer(config.SMTP_URL, config.MAIL_FROM) : new OutboxMailer(database.db, encryptor, systemClock, logger);
        const deps = { db: database.db, clock: systemClock, settings: { publicUrl: config.PUBLIC_URL } } as AuthDeps;
        const token = await issueToken(deps, 'invite', { userId: null, email }, 7 * 24 * 60 * 60 * 1000);
        await mailer.send(mails.invite(email, appLink(deps, 'register', { token, email })));
        await mailer.close();
        console.log(`Invitation sent to ${email} (valid 7 days).`);
        return 0;
      }
      if (sub === 'unlock' && target) {
        if (!config.REDIS_URL) {
          console.error('bastion users unlock: locks live in the server’s in-memory store without REDIS_URL; restarting the server clears them.');
          return 1;
        }
        const store = openStore(config, logger);
        await store.ready();
        await new LoginThrottle(store, systemClock, { threshold: 0, lockMs: 0, perIp: 0, perIpAccount: 0, windowMs: 1 }).unlock(accountKey(normalizeEmail(target)));
        await store.close();
        console.log(`Unlocked ${normalizeEmail(target)}.`);
        return 0;
      }
      console.error(`bastion users: expected one of\n${USERS_USAGE}`);
      return 2;
    } catch (error) {
      if (error instanceof AppError) {
        console.error(`bastion users: ${error.message}`);
        return 1;
      }
      throw error;
    }
  });
}

export async function runMailOutbox(config: Config): Promise<number> {
  const logger = createLogger('warn');
  return withDatabase(config, async (database) => {
    const { keyring } = loadKeyring(config, logger);
    const mailsInOutbox = await readOutbox(database.db, new Encryptor(database.db, keyring));
    if (mailsInOutbox.length === 0) console.log('The outbox is empty.');
    for (const mail of mailsInOutbox.reverse()) {
      console.log(`--- ${mail.createdAt.toISOString()}  to ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`);
    }
    return 0;
  });
}
