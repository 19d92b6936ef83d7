/**
 * Starts a real clamd for tests, on the tiny signature database in ./db (no freshclam,
 * no network): a marker string, the EICAR test string and the MD5 of
 * ./fixtures/hash-signature.txt. Each call gets its own temp dir, config, TCP port and
 * unix socket; `stop()` ends the process and removes the dir.
 *
 * No `User` directive: clamd then keeps the invoking user (root in CI) instead of
 * switching to `clamav`, which could not read a temp dir owned by someone else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLAMAV_TEST_DIR = fileURLToPath(new URL('.', import.meta.url));
/** Signature names as clamd reports them. */
export const TEST_SIGNATURES = {
  marker: 'Bastion.Test.Marker.UNOFFICIAL',
  eicar: 'Bastion.Test.Eicar.UNOFFICIAL',
  hashFixture: 'Bastion.Test.HashFixture.UNOFFICIAL',
} as const;
/** The ASCII marker that db/bastion-test.ndb detects. */
export const MARKER = 'BASTION-CLAMAV-TEST-SIGNATURE';
export const HASH_FIXTURE = path.join(CLAMAV_TEST_DIR, 'fixtures', 'hash-signature.txt');

const CLAMD_PATHS = ['/usr/sbin/clamd', '/usr/local/sbin/clamd', '/usr/bin/clamd', '/usr/local/bin/clamd', '/opt/homebrew/sbin/clamd'];
const START_TIMEOUT_MS = 60_000;

export interface StartedClamd {
  /** tcp://127.0.0.1:<port> */
  url: string;
  /** unix:///<tmp>/clamd.sock */
  unixUrl: string;
  /** Milliseconds from spawn to the first PONG. */
  startupMs: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface ClamdTestOptions {
  /** clamd's StreamMaxLength (default 64M, above the largest test file). */
  streamMaxLength?: string;
  /** TCP port to listen on (default: a free one), for apps configured before clamd starts. */
  port?: number;
}

export function findClamd(): string | null {
  return CLAMD_PATHS.find((p) => fs.existsSync(p)) ?? null;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(reply.startsWith('PONG')));
  });
}

function writeConfig(dir: string, port: number, options: ClamdTestOptions): string {
  const database = path.join(dir, 'db');
  fs.cpSync(path.join(CLAMAV_TEST_DIR, 'db'), database, { recursive: true });
  const config = path.join(dir, 'clamd.conf');
  const lines = [
    `DatabaseDirectory ${database}`,
    `TCPSocket ${port}`,
    'TCPAddr 127.0.0.1',
    `LocalSocket ${path.join(dir, 'clamd.sock')}`,
    'Foreground yes',
    `LogFile ${path.join(dir, 'clamd.log')}`,
    'LogTime yes',
    `PidFile ${path.join(dir, 'clamd.pid')}`,
    `TemporaryDirectory ${dir}`,
    `StreamMaxLength ${options.streamMaxLength ?? '64M'}`,
    'MaxScanSize 128M',
    'MaxFileSize 64M',
    'Bytecode no',
  ];
  fs.writeFileSync(config, lines.join('\n') + '\n');
  return config;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A running clamd, or null when no clamd binary is installed. */
export async function startClamd(options: ClamdTestOptions = {}): Promise<StartedClamd | null> {
  const binary = findClamd();
  if (!binary) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-clamd-'));
  const port = options.port ?? (await freePort());
  const config = writeConfig(dir, port, options);
  const logFile = path.join(dir, 'clamd.log');
  const started = Date.now();
  const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    while (!(await ping(port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`clamd exited (${child.exitCode ?? child.signalCode})`);
      if (Date.now() - started > START_TIMEOUT_MS) throw new Error(`clamd did not answer PING within ${START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
    await stop();
    throw new Error(`${(error as Error).message}\n${stderr}\n${log}`);
  }
  return {
    url: `tcp://127.0.0.1:${port}`,
    unixUrl: `unix://${path.join(dir, 'clamd.sock')}`,
    startupMs: Date.now() - started,
    logFile,
    stop,
  };
}
