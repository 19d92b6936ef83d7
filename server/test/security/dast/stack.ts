/**
 * The staging stack the scanners attack: `bastion serve` in production mode on the
 * machine's PostgreSQL (a fresh database) and Redis (its own key prefix), a real SMTP sink,
 * behind nginx terminating TLS on loopback with a certificate made at start. Seeded like
 * a small organisation: an administrator (two-factor enrolled), two workspaces, members of
 * every role, agents, a knowledge base with a document, a conversation and API keys.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openPostgres } from '../../../src/platform/db/database.js';
import { totpAt } from '../../../src/modules/auth/totp.js';
import { SCOPES } from '../../../src/principal.js';
import { createUser, PASSWORD } from '../../accounts.js';
import { Child, track } from '../../faults/cluster.js';
import { freePort, silentLogger, testMasterKeys, waitFor } from '../../harness.js';
import { SmtpSink } from '../../smtp-sink.js';

export interface Session {
  cookie: string;
  csrf: string;
}

export interface Stack {
  /** https://127.0.0.1:<port>, through nginx. */
  url: string;
  /** http://127.0.0.1:<port>, the instance itself. */
  direct: string;
  port: number;
  /** The workspace owner's key, with every scope. */
  apiKey: string;
  /** The instance administrator's key (two-factor enrolled, as administrators must be). */
  adminApiKey: string;
  session: Session;
  ids: { workspace: string; agent: string; base: string; document: string; conversation: string; member: string };
  stop(): Promise<void>;
}

const MASTER_KEYS = testMasterKeys.keys.map((k) => `${k.id === testMasterKeys.activeId ? '*' : ''}${k.id}:${k.key.toString('base64')}`).join(',');

function cookiesOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

async function signIn(base: string, email: string, password: string): Promise<Session> {
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (login.status !== 200) throw new Error(`sign-in ${email}: ${login.status} ${await login.text()}`);
  const cookie = cookiesOf(login);
  const csrf = ((await (await fetch(`${base}/api/v1/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
  return { cookie, csrf };
}

/** Signs the administrator in, enrols TOTP as the sign-in requires, and makes an API key. */
async function administratorKey(base: string, email: string): Promise<string> {
  let session = await signIn(base, email, PASSWORD);
  const post = async (route: string, body?: unknown) => {
    const response = await fetch(`${base}/api/v1${route}`, {
      method: 'POST',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (response.status >= 300) throw new Error(`administrator ${route}: ${response.status} ${await response.text()}`);
    return response;
  };
  const { secret } = (await (await post('/auth/mfa/totp/setup')).json()) as { secret: string };
  const confirmed = await post('/auth/mfa/totp/confirm', { code: await totpAt(secret, new Date()) });
  // Enrolment may rotate the session; take the new cookie and its CSRF token.
  const cookie = cookiesOf(confirmed) || session.cookie;
  const csrf = ((await (await fetch(`${base}/api/v1/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
  session = { cookie, csrf };
  const created = await post('/api-keys', { name: 'scanner (administrator)', scopes: [...SCOPES] });
  return String(((await created.json()) as { key: string }).key);
}

function nginxTls(dir: string, port: number, upstream: string): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server_tokens off;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers on;
    ssl_session_tickets off;
    client_max_body_size 64m;
    location / {
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
    }
  }
}
`;
}

export async function startStack(adminDatabaseUrl: string, redisUrl: string): Promise<Stack> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-dast-'));
  await fs.chmod(dir, 0o777);
  const database = `bastion_dast_${process.pid}`;
  spawnSync('psql', [adminDatabaseUrl, '-qc', `drop database if exists ${database} with (force)`]);
  execFileSync('psql', [adminDatabaseUrl, '-v', 'ON_ERROR_STOP=1', '-qc', `create database ${database}`]);
  const databaseUrl = new URL(adminDatabaseUrl);
  databaseUrl.pathname = `/${database}`;
  const smtp = new SmtpSink();
  const smtpUrl = await smtp.start();
  const [port, apiPort] = [await freePort(), await freePort()];
  const url = `https://127.0.0.1:${port}`;
  const direct = `http://127.0.0.1:${apiPort}`;

  const server = new Child('dast-api', ['serve'], {
    NODE_ENV: 'production',
    PORT: String(apiPort),
    PUBLIC_URL: url,
    DATABASE_URL: databaseUrl.href,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `dast-${process.pid}:`,
    SMTP_URL: smtpUrl,
    MASTER_KEYS,
    TRUSTED_PROXIES: '127.0.0.1',
    DATA_DIR: dir,
    LOG_LEVEL: 'warn',
    // The scanners send thousands of requests from one address.
    RATE_LIMIT_SCALE: '1000',
  });
  server.start();
  const ready = await waitFor(async () => (await fetch(`${direct}/readyz`).catch(() => undefined))?.status === 200, 90_000, 200);
  if (!ready) throw new Error(`the staging instance did not start:\n${server.output}`);

  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  await fs.writeFile(`${dir}/nginx.conf`, nginxTls(dir, port, `127.0.0.1:${apiPort}`));
  const nginx = track(spawn('nginx', ['-c', `${dir}/nginx.conf`, '-p', dir], { stdio: 'ignore', detached: true }));
  const proxied = await waitFor(async () => (await fetch(`${direct}/healthz`).catch(() => undefined))?.status === 200 && spawnSync('curl', ['-ks', '-o', '/dev/null', `${url}/healthz`]).status === 0, 10_000, 100);
  if (!proxied) throw new Error(`nginx did not start: ${await fs.readFile(`${dir}/error.log`, 'utf8').catch(() => '')}`);

  // Seed: people of every role in two workspaces, with the things they work on.
  const db = openPostgres(databaseUrl.href, { DB_POOL_MAX: 2, DB_STATEMENT_TIMEOUT_MS: 15_000, DB_IDLE_TIMEOUT_MS: 1_000, DB_CONNECT_TIMEOUT_MS: 2_000 }, silentLogger);
  const people = ['owner', 'admin', 'member', 'viewer', 'stranger'].map((role) => ({ role, email: `${role}-${randomBytes(3).toString('hex')}@example.org` }));
  const userIds: Record<string, string> = {};
  for (const person of people) userIds[person.role] = await createUser(db, { email: person.email, name: `Staging ${person.role}` });
  // An instance administrator exists, as on any running instance (no setup link is open),
  // enrolled in two-factor authentication, with an API key for the administration routes.
  const adminEmail = `instance-admin-${randomBytes(3).toString('hex')}@example.org`;
  await createUser(db, { email: adminEmail, role: 'admin' });
  const adminApiKey = await administratorKey(direct, adminEmail);

  const owner = await signIn(direct, people[0]!.email, PASSWORD);
  const api = async (session: Session, method: string, route: string, body?: unknown, workspace?: string) => {
    const response = await fetch(`${direct}/api/v1${route}`, {
      method,
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(workspace ? { 'x-workspace-id': workspace } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const workspace = String((await api(owner, 'POST', '/workspaces', { name: 'Staging team' })).id);
  const other = await signIn(direct, people[4]!.email, PASSWORD);
  await api(other, 'POST', '/workspaces', { name: 'Another company' });
  for (const role of ['admin', 'member', 'viewer'] as const) {
    await db.db.insertInto('workspace_members').values({ workspace_id: workspace, user_id: userIds[role]!, role, created_at: new Date() }).execute();
  }
  const base = String((await api(owner, 'POST', '/knowledge-bases', { name: 'Handbook' }, workspace)).id);
  const form = new FormData();
  form.append('file', new Blob(['# Parking\n\nVisitors park on level minus two.\n'], { type: 'text/markdown' }), 'parking.md');
  const upload = await fetch(`${direct}/api/v1/knowledge-bases/${base}/documents`, { method: 'POST', headers: { cookie: owner.cookie, 'x-csrf-token': owner.csrf, 'x-workspace-id': workspace }, body: form });
  const document = String(((await upload.json()) as { id: string }).id);
  const agent = String((await api(owner, 'POST', '/agents', { name: 'Front desk', knowledgeBaseIds: [base] }, workspace)).id);
  const conversation = String((await api(owner, 'POST', '/conversations', { agentId: agent }, workspace)).id);
  await fetch(`${direct}/api/v1/conversations/${conversation}/messages`, {
    method: 'POST',
    headers: { cookie: owner.cookie, 'x-csrf-token': owner.csrf, 'x-workspace-id': workspace, 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'Where do visitors park?' }),
  }).then((r) => r.text());
  const apiKey = String((await api(owner, 'POST', '/api-keys', { name: 'scanner', scopes: [...SCOPES] })).key);
  const documents = await sql<{ n: string }>`select count(*) as n from documents`.execute(db.db);
  if (Number(documents.rows[0]!.n) < 1) throw new Error('seeding failed: no document');
  await db.close();

  return {
    url,
    direct,
    port,
    apiKey,
    adminApiKey,
    session: owner,
    ids: { workspace, agent, base, document, conversation, member: userIds.member! },
    stop: async () => {
      await server.stop('SIGTERM');
      nginx.kill('SIGQUIT');
      await smtp.stop();
      spawnSync('psql', [adminDatabaseUrl, '-qc', `drop database if exists ${database} with (force)`]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
