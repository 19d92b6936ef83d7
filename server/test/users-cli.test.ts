/**
 * `bastion users` and `bastion mail outbox` as an operator runs them, then the
 * invitation used through the API with REGISTRATION=invite.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { Encryptor } from '../src/platform/crypto/envelope.js';
import { loadKeyring } from '../src/platform/crypto/keyring.js';
import { openDatabase } from '../src/platform/db/database.js';
import { readOutbox } from '../src/platform/mail/mailer.js';
import { tokenFrom } from './accounts.js';
import { BrowserClient } from './browser-client.js';
import { buildTestApp, createPostgresDatabase, postgresDatabaseName, silentLogger, tempDir, TEST_DATABASE_URL, TEST_RUN } from './harness.js';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));

function bastion(args: string[], env: Record<string, string>, input?: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...args], {
    cwd: SERVER_DIR,
    env: { PATH: TEST_RUN.path, ...env },
    encoding: 'utf8',
    timeout: 60_000,
    ...(input !== undefined ? { input } : {}),
  });
  return { status: result.status, out: result.stdout + result.stderr };
}

describe('bastion users', () => {
  it('creates an admin, invites a person, and the invitation registers them', async () => {
    const env: Record<string, string> = { DATA_DIR: await tempDir('users'), REGISTRATION: 'invite' };
    if (TEST_DATABASE_URL) env.DATABASE_URL = await createPostgresDatabase(postgresDatabaseName('users'));

    const created = bastion(['users', 'create-admin', '--email', 'Root@Example.org', '--name', 'Root Admin'], env);
    expect(created.status, created.out).toBe(0);
    const password = /Password \(shown once[^)]*\): (\S+)/.exec(created.out)?.[1];
    expect(password).toHaveLength(24);
    expect(bastion(['users', 'create-admin', '--email', 'root@example.org', '--name', 'Again'], env).status).toBe(1);
    const weak = bastion(['users', 'create-admin', '--email', 'b@example.org', '--name', 'B', '--password-stdin'], env, 'password123\n');
    expect(weak.status).toBe(1);
    expect(weak.out).toMatch(/at least 15 characters/);

    const invited = bastion(['users', 'invite', 'newcomer@example.org'], env);
    expect(invited.status, invited.out).toBe(0);
    const outbox = bastion(['mail', 'outbox'], env);
    expect(outbox.out).toContain('Subject: You are invited to Bastion');

    const config = loadConfig(env);
    const database = await openDatabase(config, silentLogger);
    const encryptor = new Encryptor(database.db, loadKeyring(config, silentLogger).keyring);
    const [mail] = await readOutbox(database.db, encryptor);
    const t = await buildTestApp({ database, env: { REGISTRATION: 'invite', REQUIRE_MFA: 'none' } });
    try {
      const admin = new BrowserClient(t.app);
      const signIn = await admin.signIn('root@example.org', password!);
      expect(signIn.json().user).toMatchObject({ role: 'admin', emailVerified: true });

      const browser = new BrowserClient(t.app);
      const uninvited = await browser.post('/auth/register', { email: 'someone@example.org', password: 'violet tractor sings at dawn', name: 'Someone' });
      expect(uninvited.statusCode).toBe(403);
      expect(uninvited.json().error.code).toBe('registration_closed');
      const wrongEmail = await browser.post('/auth/register', { email: 'other@example.org', password: 'violet tractor sings at dawn', name: 'Other', inviteToken: tokenFrom(mail!.text) });
      expect(wrongEmail.statusCode).toBe(403);
      const ok = await browser.post('/auth/register', { email: 'newcomer@example.org', password: 'violet tractor sings at dawn', name: 'New Comer', inviteToken: tokenFrom(mail!.text) });
      expect(ok.statusCode).toBe(202);
      expect((await browser.signIn('newcomer@example.org', 'violet tractor sings at dawn')).statusCode).toBe(200);
    } finally {
      await t.app.close();
      await database.close();
    }
  }, 120_000);
});
