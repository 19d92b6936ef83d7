/**
 * The deployment the fault suite breaks: its own PostgreSQL (initdb as the postgres user,
 * on its own port) and Redis, two `bastion serve` instances and one `bastion worker`, as
 * real processes that can be killed. Never the machine's shared PostgreSQL and Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_RUN, testMasterKeys, waitFor } from '../harness.js';

const SERVER_DIR = fileURLToPath(new URL('../..', import.meta.url));
const PG_BIN = '/usr/lib/postgresql/15/bin';

export const PORTS = { postgres: 55433, redis: 56380, api: [58101, 58102] as const, metrics: 58190 };
export const DATABASE_URL = `postgres://postgres@127.0.0.1:${PORTS.postgres}/bastion`;
export const REDIS_URL = `redis://127.0.0.1:${PORTS.redis}`;
/** `id:base64` for MASTER_KEYS: every process of the deployment shares it. */
const MASTER_KEYS = testMasterKeys.keys.map((k) => `${k.id === testMasterKeys.activeId ? '*' : ''}${k.id}:${k.key.toString('base64')}`).join(',');

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
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...this.argv], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.process = child;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
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
  stop(): Promise<void>;
}

export async function startCluster(env: Record<string, string>): Promise<Cluster> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-faults-'));
  const pgdata = path.join(root, 'pgdata');
  await fs.chmod(root, 0o755);
  await fs.mkdir(pgdata, { mode: 0o700 });
  run('chown', ['postgres:postgres', pgdata]);
  run(`${PG_BIN}/initdb`, ['-D', pgdata, '-U', 'postgres', '-A', 'trust', '--no-sync'], { asPostgres: true });
  const pgOptions = `-p ${PORTS.postgres} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${pgdata} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const startPostgres = () => void run(`${PG_BIN}/pg_ctl`, ['-D', pgdata, '-o', pgOptions, '-l', path.join(pgdata, 'log'), '-w', '-t', '60', 'start'], { asPostgres: true });
  const stopPostgres = () => void run(`${PG_BIN}/pg_ctl`, ['-D', pgdata, '-m', 'immediate', '-w', 'stop'], { asPostgres: true });
  startPostgres();
  run('psql', ['-h', '127.0.0.1', '-p', String(PORTS.postgres), '-U', 'postgres', '-qc', 'create database bastion']);

  let redis: ChildProcess | undefined;
  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(PORTS.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const up = await waitFor(async () => spawnSync('redis-cli', ['-p', String(PORTS.redis), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10_000, 50);
    if (!up) throw new Error('redis-server did not start');
  };
  const killRedis = async () => {
    const child = redis;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await startRedis();

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

  // The first instance migrates; the second and the worker start on the migrated database.
  apis[0].start();
  await whenReady(0, 90_000);
  apis[1].start();
  worker.start();
  await whenReady(1, 90_000);

  return {
    apis,
    worker,
    urls,
    killRedis,
    startRedis,
    stopPostgres,
    startPostgres,
    whenReady,
    auditVerify() {
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', 'audit', 'verify'], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...common }, encoding: 'utf8', timeout: 120_000 });
      return { status: result.status, output: result.stdout + result.stderr };
    },
    async stop() {
      await Promise.all([...apis, worker].map((c) => c.stop('SIGKILL')));
      await killRedis();
      try {
        stopPostgres();
      } catch {
        // already stopped
      }
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
