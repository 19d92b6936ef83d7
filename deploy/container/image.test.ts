/**
 * The container image, built and run as an operator would (`npm run test:image`): build
 * deploy/Containerfile with Podman, run `bastion migrate`, then `bastion serve` and
 * `bastion worker` against the machine's PostgreSQL and Redis with production settings
 * (read-only root filesystem, a tmpfs /tmp, a data volume, master keys from a file, a real
 * SMTP sink), and check what a first day needs: /readyz, the setup link in the log, the
 * first administrator, an uploaded document ingested by the worker, one cited answer (the
 * built-in extractive provider: no network). Then that the process is not root, cannot
 * write its code or root filesystem, and stops cleanly on SIGTERM.
 *
 * Podman here runs with runc and cgroupfs on the host network (see docs/deploy.md); a
 * machine without Podman skips with a message.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../server/test/harness.js';
import { SmtpSink } from '../../server/test/smtp-sink.js';
import { totpAt } from '../../server/src/modules/auth/totp.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGE = 'localhost/bastion:test';
const PODMAN_GLOBAL = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
const LIMITS = ['--network=host', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const ADMIN_URL = process.env.IMAGE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.IMAGE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const UID = '10001';

const podmanRuns = spawnSync('podman', [...PODMAN_GLOBAL, 'info'], { stdio: 'ignore' }).status === 0;
if (!podmanRuns) console.warn('test:image skipped: podman cannot run on this machine (apt-get install -y podman runc debootstrap)');

async function podman(args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('podman', [...PODMAN_GLOBAL, ...args], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** The exit code and output of a command in the running container. */
function exec(container: string, command: string[]): { status: number | null; output: string } {
  const result = spawnSync('podman', [...PODMAN_GLOBAL, 'exec', container, ...command], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The `name=value` pairs a response sets, as a Cookie header. */
function cookiesOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.skipIf(!podmanRuns)('the container image', () => {
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const database = `bastion_image_${suffix}`;
  const names = { serve: `bastion-image-serve-${suffix}`, worker: `bastion-image-worker-${suffix}`, volume: `bastion-image-data-${suffix}` };
  const smtp = new SmtpSink();
  let secrets: string;
  let base: string;
  let env: string[];
  const figures: Record<string, string> = {};

  beforeAll(async () => {
    const started = Date.now();
    await run('bash', [path.join(ROOT, 'deploy/container/base-image.sh'), ...PODMAN_GLOBAL], { cwd: ROOT, timeout: 300_000 });
    // Behind a TLS-intercepting proxy npm needs the machine's CA bundle in the build (deploy/Containerfile).
    const ca = process.env.npm_config_cafile ?? process.env.NODE_EXTRA_CA_CERTS;
    const caArgs = ca && fs.existsSync(ca) ? ['-v', `${ca}:/run/build-ca.crt:ro`, '--build-arg', 'npm_config_cafile=/run/build-ca.crt'] : [];
    await podman(['build', '--format', 'docker', ...LIMITS, ...caArgs, '-f', 'deploy/Containerfile', '-t', IMAGE, '.'], 600_000);
    figures.build = `${((Date.now() - started) / 1000).toFixed(0)} s`;
    figures.size = `${(Number(await podman(['image', 'inspect', IMAGE, '--format', '{{.Size}}'])) / 1e6).toFixed(0)} MB`;

    await run('psql', [ADMIN_URL, '-v', 'ON_ERROR_STOP=1', '-qc', `create database ${database}`]);
    const smtpUrl = await smtp.start();
    // Master keys as a file only the container's user can read (a secret file in compose).
    secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-image-'));
    const keyFile = path.join(secrets, 'master_keys');
    fs.writeFileSync(keyFile, `*k1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    fs.chownSync(keyFile, Number(UID), Number(UID));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const dbUrl = new URL(ADMIN_URL);
    dbUrl.pathname = `/${database}`;
    env = [
      ['PORT', String(port)],
      ['PUBLIC_URL', 'https://bastion.test'],
      ['DATABASE_URL', dbUrl.href],
      ['REDIS_URL', REDIS_URL],
      ['REDIS_KEY_PREFIX', `image-${suffix}:`],
      ['SMTP_URL', smtpUrl],
      ['MASTER_KEYS_FILE', '/run/secrets/master_keys'],
      ['LOG_LEVEL', 'info'],
      // As in deploy/compose.yaml: the API instances leave ingestion to `bastion worker`.
      ['INGEST_IN_PROCESS', 'false'],
    ].flatMap(([name, value]) => ['-e', `${name}=${value}`]);
    env.push('-v', `${keyFile}:/run/secrets/master_keys:ro`);
    await podman(['volume', 'create', names.volume]);
  }, 900_000);

  afterAll(async () => {
    for (const name of [names.serve, names.worker]) await podman(['rm', '-f', '-t', '0', name]).catch(() => undefined);
    await podman(['volume', 'rm', '-f', names.volume]).catch(() => undefined);
    await smtp.stop();
    if (secrets) fs.rmSync(secrets, { recursive: true, force: true });
    await run('psql', [ADMIN_URL, '-qc', `drop database if exists ${database} with (force)`]).catch(() => undefined);
    console.log(
      `container image: ${Object.entries(figures)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }, 120_000);

  const runContainer = (name: string, command: string[], detach = true) =>
    podman(['run', ...(detach ? ['-d', '--name', name] : ['--rm']), ...LIMITS, '--read-only', '--tmpfs', '/tmp:rw,size=64m,mode=1777', '-v', `${names.volume}:/data`, ...env, IMAGE, ...command], 120_000);

  it('runs `bastion migrate` once and exits', async () => {
    const output = await runContainer('', ['migrate'], false);
    expect(output).toMatch(/^Applied .+; now at version \d+\.$/m);
    const client = new pg.Client({ connectionString: `${ADMIN_URL.replace(/\/[^/]*$/, '')}/${database}` });
    await client.connect();
    const { rows } = await client.query<{ n: string }>('select count(*) as n from schema_migrations');
    await client.end();
    expect(Number(rows[0]!.n)).toBeGreaterThan(20);
  });

  it('starts `bastion serve` with production settings and becomes ready; the worker starts beside it', async () => {
    const started = Date.now();
    await runContainer(names.serve, []);
    await runContainer(names.worker, ['worker']);
    await waitFor('/readyz', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 60_000);
    figures.ready = `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const health = spawnSync('podman', [...PODMAN_GLOBAL, 'healthcheck', 'run', names.serve], { encoding: 'utf8' });
    expect(health.status, health.stderr).toBe(0);
    const inspect = JSON.parse(await podman(['inspect', names.serve])) as { Config: { Labels: Record<string, string>; User: string; Env: string[] } }[];
    expect(inspect[0]!.Config.Env).toContain('NODE_ENV=production');
    expect(inspect[0]!.Config.Labels['org.opencontainers.image.licenses']).toBeTruthy();
  });

  it('runs as an unprivileged user that cannot write its code or the root filesystem, only /data and /tmp', () => {
    expect(exec(names.serve, ['id', '-u']).output.trim()).toBe(UID);
    const write = (file: string) => exec(names.serve, ['node', '-e', `require('fs').writeFileSync(${JSON.stringify(file)}, 'x')`]);
    expect(write('/app/server/dist/cli.js').output).toMatch(/EROFS|EACCES/);
    expect(write('/etc/bastion').output).toMatch(/EROFS|EACCES/);
    expect(write('/data/probe').status).toBe(0);
    expect(write('/tmp/probe').status).toBe(0);
  });

  it('makes the first administrator from the logged setup link, ingests a document with the worker and answers with a citation', async () => {
    const logs = await waitFor('the setup link', async () => /setup#token=(bst_setup_[\w-]+)/.exec(await podman(['logs', names.serve]))?.[1], 30_000);
    const email = 'first-admin@example.org';
    const password = `${randomBytes(12).toString('base64url')} copper lantern`;
    const setup = await fetch(`${base}/api/v1/auth/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: logs, email, name: 'First Admin', password }) });
    expect(setup.status, await setup.clone().text()).toBe(200);
    // Administrators must enrol two-factor authentication in production before anything else.
    let cookie = cookiesOf(setup);
    const csrfOf = async () => ((await (await fetch(`${base}/api/v1/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
    let csrf = await csrfOf();
    const enrol = await fetch(`${base}/api/v1/auth/mfa/totp/setup`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    expect(enrol.status, await enrol.clone().text()).toBe(200);
    const { secret } = (await enrol.json()) as { secret: string };
    const confirm = await fetch(`${base}/api/v1/auth/mfa/totp/confirm`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ code: await totpAt(secret, new Date()) }) });
    expect(confirm.status, await confirm.clone().text()).toBe(200);
    cookie = cookiesOf(confirm) || cookie; // the session rotates on enrolment
    csrf = await csrfOf();
    const headers = { cookie, 'x-csrf-token': csrf };
    const post = async (url: string, body: object) => {
      const response = await fetch(`${base}/api/v1${url}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status, await response.clone().text()).toBe(201);
      return ((await response.json()) as { id: string }).id;
    };
    const baseId = await post('/knowledge-bases', { name: 'Handbook' });
    const form = new FormData();
    form.append('file', new Blob(['# Parking\n\nVisitors park on level minus two; the code for the barrier is the blue lantern sign.\n'], { type: 'text/markdown' }), 'parking.md');
    const upload = await fetch(`${base}/api/v1/knowledge-bases/${baseId}/documents`, { method: 'POST', headers, body: form });
    expect(upload.status, await upload.clone().text()).toBe(202);
    const docId = ((await upload.json()) as { id: string }).id;
    await waitFor(
      'the document to be ready (ingested by the worker container)',
      async () => {
        const doc = (await (await fetch(`${base}/api/v1/knowledge-bases/${baseId}/documents/${docId}`, { headers })).json()) as { status: string };
        if (doc.status === 'failed') throw new Error('ingestion failed');
        return doc.status === 'ready' ? true : undefined;
      },
      60_000,
    );
    const agentId = await post('/agents', { name: 'Front desk', knowledgeBaseIds: [baseId] });
    const conversationId = await post('/conversations', { agentId });
    const answer = await fetch(`${base}/api/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'Where do visitors park?' }),
    });
    expect(answer.status).toBe(200);
    const stream = await answer.text();
    expect(stream).toMatch(/event: citations/);
    expect(stream).toMatch(/parking\.md/);
    const done = JSON.parse(/event: done\ndata: (.+)/.exec(stream)?.[1] ?? '{}') as { message?: { status?: string; text?: string } };
    expect(done.message?.status).toBe('complete');
    expect(done.message?.text).toMatch(/level minus two/);
  });

  it('stops cleanly on SIGTERM: exit code 0, well before the kill timeout', async () => {
    const started = Date.now();
    await podman(['stop', '-t', '30', names.serve, names.worker], 60_000);
    figures.stop = `${((Date.now() - started) / 1000).toFixed(1)} s`;
    expect(Date.now() - started).toBeLessThan(25_000);
    for (const name of [names.serve, names.worker]) expect(await podman(['inspect', name, '--format', '{{.State.ExitCode}}'])).toBe('0');
  });
});
