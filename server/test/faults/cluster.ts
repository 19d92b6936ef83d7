/**
 * The deployment the fault suite breaks: its own PostgreSQL (initdb as the postgres user,
 * on its own port) and Redis, two `bastion serve` instances and one `bastion worker`, as
 * real processes that can be killed. Never the machine's shared PostgreSQL and Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_RUN, testMasterKeys, waitFor } from '../harness.js';

const SERVER_DIR = fileURLToPath(new URL('../..', import.meta.url));
const PG_BIN = '/usr/lib/postgresql/15/bin';

// Below the ephemeral range (32768–60999 here): an outbound connection can never hold them.
export const PORTS = { postgres: 25433, redis: 26380, api: [28101, 28102] as const, metrics: 28190 };
export const DATABASE_URL = `postgres://postgres@127.0.0.1:${PORTS.postgres}/bastion`;
export const REDIS_URL = `redis://127.0.0.1:${PORTS.redis}`;
/** `id:base64` for MASTER_KEYS: every process of the deployment shares it. */
const MASTER_KEYS = testMasterKeys.keys.map((k) => `${k.id === testMasterKeys.activeId ? '*' : ''}${k.id}:${k.key.toString('base64')}`).join(',');

/**
 * Everything the suite started, so nothing outlives it: children run in their own process
 * groups (killed as groups), PostgreSQL clusters are stopped with `pg_ctl -m immediate`.
 * Cleaned up by `stop()`, and also when the test process exits, is signalled, or dies
 * without running any handler (SIGKILL): a detached reaper shell watches its pid.
 */
const live = new Set<ChildProcess>();
const clusters = new Set<string>();
let pidFile: string | undefined;

function writePids(): void {
  if (pidFile) writeFileSync(pidFile, [...live].map((c) => c.pid).join('\n'));
}

/** Registers a child (spawned `detached`, so it leads its own process group). */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  writePids();
  child.once('exit', () => {
    live.delete(child);
    if (pidFile && existsSync(path.dirname(pidFile))) writePids();
  });
  return child;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

function stopPostgresNow(pgdata: string): void {
  if (existsSync(path.join(pgdata, 'postmaster.pid'))) spawnSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', pgdata, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore', timeout: 30_000 });
}

/** Synchronous: safe in an `exit` handler. */
function cleanupNow(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
  for (const pgdata of clusters) stopPostgresNow(pgdata);
  clusters.clear();
}

let handlersInstalled = false;
function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', cleanupNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      cleanupNow();
      process.exit(code);
    });
  }
}

/** A shell that outlives this process only to clean up after it if it dies by SIGKILL. */
function startReaper(root: string, pgdata: string): ChildProcess {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
for p in $(cat "$2/pids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null; done
[ -f "$3/postmaster.pid" ] && runuser -u postgres -- "$4/pg_ctl" -D "$3" -m immediate -w stop >/dev/null 2>&1
rm -rf "$2"`;
  const reaper = spawn('sh', ['-c', script, 'faults-reaper', String(process.pid), root, pgdata, PG_BIN], { detached: true, stdio: 'ignore' });
  reaper.unref();
  return reaper;
}

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function run(command: string, args: string[], options: { asPostgres?: boolean } = {}): string {
  const [cmd, argv] = options.asPostgres ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

/** A child process whose output is kept (the last 20 kB) for failure messages. */
export class Child {
  process: ChildProcess | undefined;
  output = '';
  constructor(
    readonly name: string,
    private readonly argv: string[],
    private readonly env: Record<string, string>,
  ) {}

  start(): void {
    installCleanupHandlers();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...this.argv], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(child);
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.process = child;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** SIGSTOP / SIGCONT: the process is frozen, not restarted (nothing runs its start-up again). */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }
  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** Sends `signal` and resolves with the exit code once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.process;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}

export interface Cluster {
  apis: [Child, Child];
  worker: Child;
  urls: [string, string];
  /** `kill -9` of Redis; `startRedis` brings an empty one back on the same port. */
  killRedis(): Promise<void>;
  startRedis(): Promise<void>;
  /** `pg_ctl stop -m immediate`; `startPostgres` starts the same cluster again. */
  stopPostgres(): void;
  startPostgres(): void;
  /** Waits until `child` (an API instance) answers /readyz 200; returns the seconds waited. */
  whenReady(index: 0 | 1, timeoutMs?: number): Promise<number>;
  /** `bastion audit verify` against the deployment's database; its exit code and output. */
  auditVerify(): { status: number | null; output: string };
  /** Any `bastion` command with the deployment's configuration (`input` on its stdin). */
  cli(args: string[], input?: string): { status: number | null; output: string };
  stop(): Promise<void>;
}

export async function startCluster(env: Record<string, string>): Promise<Cluster> {
  // Another run (or a leftover) on these ports: say so rather than break or kill it.
  for (const port of [PORTS.postgres, PORTS.redis, ...PORTS.api]) {
    if (await portInUse(port)) throw new Error(`port ${port} is in use: another \`npm run test:faults\` running, or a leftover of one (not touched)`);
  }
  installCleanupHandlers();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-faults-'));
  const pgdata = path.join(root, 'pgdata');
  pidFile = path.join(root, 'pids');
  writePids();
  const reaper = startReaper(root, pgdata);
  await fs.chmod(root, 0o755);
  await fs.mkdir(pgdata, { mode: 0o700 });
  run('chown', ['postgres:postgres', pgdata]);
  run(`${PG_BIN}/initdb`, ['-D', pgdata, '-U', 'postgres', '-A', 'trust', '--no-sync'], { asPostgres: true });
  clusters.add(pgdata);
  const pgOptions = `-p ${PORTS.postgres} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${pgdata} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const startPostgres = () => void run(`${PG_BIN}/pg_ctl`, ['-D', pgdata, '-o', pgOptions, '-l', path.join(pgdata, 'log'), '-w', '-t', '60', 'start'], { asPostgres: true });
  const stopPostgres = () => void run(`${PG_BIN}/pg_ctl`, ['-D', pgdata, '-m', 'immediate', '-w', 'stop'], { asPostgres: true });

  let redis: ChildProcess | undefined;
  // Its output goes to a log the error quotes: a Redis that will not start says why. A start that
  // fails outright (the port briefly held by the one just killed) is tried again.
  const redisLog = path.join(root, 'redis.log');
  const startRedis = async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const out = openSync(redisLog, 'a');
      const child = track(spawn('redis-server', ['--port', String(PORTS.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', out, out], detached: true }));
      closeSync(out);
      redis = child;
      // Stops waiting early when the process has exited: then only a new start can help.
      const up = await waitFor(async () => child.exitCode !== null || spawnSync('redis-cli', ['-p', String(PORTS.redis), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 30_000);
      if (up && child.exitCode === null) return;
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    throw new Error(`redis-server did not start on port ${PORTS.redis}:\n${await fs.readFile(redisLog, 'utf8').catch(() => '(no output)')}`);
  };
  const killRedis = async () => {
    const child = redis;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };

  const common = {
    DATABASE_URL,
    REDIS_URL,
    MASTER_KEYS,
    DATA_DIR: root,
    LOG_LEVEL: 'warn',
    REQUIRE_MFA: 'none',
    RATE_LIMIT_SCALE: '1000',
    OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*',
    DB_CONNECT_TIMEOUT_MS: '2000',
    ...env,
  };
  const urls: [string, string] = [`http://127.0.0.1:${PORTS.api[0]}`, `http://127.0.0.1:${PORTS.api[1]}`];
  const apis: [Child, Child] = [new Child('api-1', ['serve'], { ...common, PORT: String(PORTS.api[0]), INGEST_IN_PROCESS: 'false' }), new Child('api-2', ['serve'], { ...common, PORT: String(PORTS.api[1]), INGEST_IN_PROCESS: 'false' })];
  const worker = new Child('worker', ['worker'], common);

  const whenReady = async (index: 0 | 1, timeoutMs = 60_000) => {
    const started = Date.now();
    const ready = await waitFor(
      async () => {
        try {
          return (await fetch(`${urls[index]}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200;
        } catch {
          return false;
        }
      },
      timeoutMs,
      100,
    );
    if (!ready) throw new Error(`${apis[index].name} not ready after ${timeoutMs} ms:\n${apis[index].output}`);
    return (Date.now() - started) / 1000;
  };

  const stop = async () => {
    await Promise.all([...apis, worker].map((c) => c.stop('SIGKILL')));
    await killRedis();
    stopPostgresNow(pgdata);
    clusters.delete(pgdata);
    cleanupNow(); // anything else still tracked (an embedded instance left behind)
    pidFile = undefined;
    reaper.kill('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  };

  try {
    startPostgres();
    run('psql', ['-h', '127.0.0.1', '-p', String(PORTS.postgres), '-U', 'postgres', '-qc', 'create database bastion']);
    await startRedis();
    // The first instance migrates; the second and the worker start on the migrated database.
    apis[0].start();
    await whenReady(0, 90_000);
    apis[1].start();
    worker.start();
    await whenReady(1, 90_000);
  } catch (error) {
    await stop(); // a half-started deployment is not left running
    throw error;
  }

  const cli = (args: string[], input?: string) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...args], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...common }, encoding: 'utf8', timeout: 120_000, input });
    return { status: result.status, output: result.stdout + result.stderr };
  };

  return {
    apis,
    worker,
    urls,
    killRedis,
    startRedis,
    stopPostgres,
    startPostgres,
    whenReady,
    auditVerify: () => cli(['audit', 'verify']),
    cli,
    stop,
  };
}
