/** Test helpers for accounts: create users directly, read links from mails. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Env } from '../src/config/index.js';
import { ManualClock } from '../src/platform/clock.js';
import { buildTestApp, testDatabase, type TestApp } from './harness.js';
import { SmtpSink } from './smtp-sink.js';
import type { Database } from '../src/platform/db/database.js';
import { hashPassword } from '../src/modules/auth/passwords.js';
import { insertUser } from '../src/modules/users/repo.js';

export const PASSWORD = 'violet tractor sings at dawn';

export async function createUser(database: Database, options: { email: string; name?: string; password?: string; role?: 'admin' | 'member'; verified?: boolean }): Promise<string> {
  const id = randomUUID();
  await insertUser(database.db, {
    id,
    email: options.email,
    name: options.name ?? 'Test Person',
    role: options.role ?? 'member',
    password_hash: await hashPassword(options.password ?? PASSWORD),
    email_verified_at: options.verified === false ? null : new Date(),
    created_at: new Date(),
  });
  return id;
}

/** The `token` in the fragment of the first link in a mail body. */
export function tokenFrom(text: string): string {
  const match = /#(?:[^\s]*&)?token=([A-Za-z0-9_-]+)/.exec(text);
  if (!match) throw new Error(`no token link in mail:\n${text}`);
  return match[1]!;
}

/**
 * Boots the app for account tests: a real SMTP sink, a manual clock moved a day ahead
 * before each test (counters and locks from earlier tests are over), empty tables.
 */
export function useAccountsApp(env: Env): { readonly t: TestApp; sink: SmtpSink; clock: ManualClock } {
  const sink = new SmtpSink();
  const clock = new ManualClock();
  let app: TestApp | undefined;
  beforeAll(async () => {
    app = await buildTestApp({ clock, smtpUrl: await sink.start(), env });
  });
  afterAll(async () => {
    await app?.close();
    await sink.stop();
  });
  beforeEach(async () => {
    await testDatabase();
    clock.advance(24 * 60 * 60 * 1000);
  });
  return {
    get t() {
      if (!app) throw new Error('app not started');
      return app;
    },
    sink,
    clock,
  };
}
