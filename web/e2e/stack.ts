/**
 * The system under test: a real `bastion serve` process (the compiled server serving the
 * production web build) on a free loopback port, with its own DATA_DIR and master keys,
 * a real SMTP sink for its mail and the fake LLM (chat + embeddings) for its agents.
 *
 * Backends follow the environment like the server suite: embedded PGlite + in-memory
 * store by default; with DATABASE_URL a fresh database beside the given one, and with
 * REDIS_URL Redis under a key prefix of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createPostgresDatabase, freePort, postgresDatabaseName, tempDir, testMasterKeys, TEST_RUN, waitFor } from '../../server/test/harness.js';
import { startFakeLlm, type FakeLlm } from '../../server/test/fake-llm.js';
import { SmtpSink } from '../../server/test/smtp-sink.js';
import { formatMasterKeys } from '../../server/src/platform/crypto/master-keys.js';
import { ARTIFACTS, ROOT, SERVER_DIR, WEB_DIR } from './paths.js';

export interface Stack {
  /** http://127.0.0.1:<port>, the origin the browser uses (= PUBLIC_URL). */
  baseUrl: string;
  sink: SmtpSink;
  fake: FakeLlm;
  backend: 'embedded' | 'postgres';
  /** The server's environment (to open its database after it stopped). */
  env: Record<string, string>;
  /** Where the server's stdout and stderr go (its log lines, one JSON object each). */
  logFile: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); idempotent. */
  stopServer(): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(name: string, env: Record<string, string> = {}): Promise<Stack> {
  const sink = new SmtpSink();
  const smtpUrl = await sink.start();
  const fake = await startFakeLlm();
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const dataDir = await tempDir(`e2e-${name}`);
  const serverEnv: Record<string, string> = {
    PATH: TEST_RUN.path ?? '/usr/bin:/bin',
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: baseUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    MASTER_KEYS: formatMasterKeys(testMasterKeys),
    REGISTRATION: 'open',
    REQUIRE_MFA: 'none',
    SMTP_URL: smtpUrl,
    OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*',
    PROVIDER_TIMEOUT_MS: '10000',
    // These tests drive screens, not overload: with eleven servers and Chromium on two cores the
    // event loop can lag past the 1-s default and a sign-in is shed with 503 (as the server suite's
    // harness, they turn the guard off; its own tests are in server/src/http/boundary.test.ts).
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env,
  };
  let backend: Stack['backend'] = 'embedded';
  if (TEST_RUN.databaseUrl) {
    serverEnv.DATABASE_URL = await createPostgresDatabase(postgresDatabaseName(`e2e_${name}`));
    backend = 'postgres';
  }
  if (TEST_RUN.redisUrl) {
    serverEnv.REDIS_URL = TEST_RUN.redisUrl;
    serverEnv.REDIS_KEY_PREFIX = `bastion-e2e:${name}:${randomBytes(4).toString('hex')}:`;
  }

  const snapshot = await snapshotBuild(name);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = path.join(ARTIFACTS, `server-${name}.log`);
  const log = fs.createWriteStream(logFile);
  const server: ChildProcess = spawn(process.execPath, ['dist/entry.js', 'serve'], { cwd: path.join(snapshot, 'server'), env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.pipe(log);
  server.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const up = (await waitFor(async () => exitedEarly || (await fetch(`${baseUrl}/readyz`)).ok, 60_000, 100)) && !exitedEarly;
  if (!up) {
    server.kill('SIGKILL');
    await Promise.all([sink.stop(), fake.close()]);
    log.end();
    throw new Error(`bastion did not become ready on ${baseUrl} (exit ${server.exitCode}); see ${path.join(ARTIFACTS, `server-${name}.log`)}`);
  }

  let stopped: Promise<void> | undefined;
  const stopServer = () =>
    (stopped ??= (async () => {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    })());

  return {
    baseUrl,
    sink,
    fake,
    backend,
    env: serverEnv,
    logFile,
    stopServer,
    async close() {
      await stopServer();
      await Promise.all([sink.stop(), fake.close()]);
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(snapshot, { recursive: true, force: true });
    },
  };
}

/**
 * A private copy of server/dist and web/build laid out as in the tree (the server finds the
 * web build at ../../web/build from dist/), with node_modules linked: a rebuild of the shared
 * tree during the run (other work in progress) cannot remove files the running server serves.
 */
async function snapshotBuild(name: string): Promise<string> {
  const dir = await tempDir(`e2e-build-${name}`);
  fs.cpSync(path.join(SERVER_DIR, 'dist'), path.join(dir, 'server', 'dist'), { recursive: true });
  fs.cpSync(path.join(SERVER_DIR, 'migrations'), path.join(dir, 'server', 'migrations'), { recursive: true });
  // Worker-thread scripts the server loads by path (dist/../workers, e.g. argon2.mjs).
  if (fs.existsSync(path.join(SERVER_DIR, 'workers'))) fs.cpSync(path.join(SERVER_DIR, 'workers'), path.join(dir, 'server', 'workers'), { recursive: true });
  fs.copyFileSync(path.join(SERVER_DIR, 'package.json'), path.join(dir, 'server', 'package.json'));
  fs.cpSync(path.join(WEB_DIR, 'build'), path.join(dir, 'web', 'build'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  if (fs.existsSync(path.join(SERVER_DIR, 'node_modules'))) fs.symlinkSync(path.join(SERVER_DIR, 'node_modules'), path.join(dir, 'server', 'node_modules'), 'dir');
  return dir;
}
