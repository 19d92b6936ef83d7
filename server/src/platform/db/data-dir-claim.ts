/**
 * The embedded database (PGlite) is one process's files: a second process opening them
 * acts on a stale copy at best and corrupts them at worst. Whoever opens `DATA_DIR`'s
 * database first claims the directory with a lock file (`DATA_DIR/bastion.lock`, mode 0600,
 * created atomically: pid, what holds it, since when) and removes it on close; everyone
 * else is refused with a `DataDirInUseError` naming the holder.
 *
 * A claim left by a process that died (kill -9, power loss) must not lock the directory
 * forever. A claim is live while:
 * - its process runs, when it was made on this machine and in this pid namespace (Linux:
 *   same boot id and pid namespace; the process start time recorded in the claim must
 *   match, so a recycled pid does not count); this answers at once after a crash;
 * - otherwise (another container sharing the volume, another OS), while the holder keeps
 *   touching the file: every 5 s, stale after 30 s.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CLAIM_FILE = 'bastion.lock';
const HEARTBEAT_MS = 5_000;
/** A claim from another pid namespace that was not touched for this long is stale. */
export const CLAIM_STALE_MS = 30_000;

/** What holds the directory: the server, or a short-lived command (CLI, tests, benches). */
export type ClaimOwner = 'serve' | 'command';

export interface ClaimRecord {
  pid: number;
  owner: ClaimOwner;
  startedAt: string;
  /** Boot id and pid namespace (Linux), or host name: where `pid` means something. */
  space: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a recycled pid. */
  processStart: string | null;
  nonce: string;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly holder: ClaimRecord,
    readonly asker: ClaimOwner,
  ) {
    super(refusal(holder, asker));
    this.name = 'DataDirInUseError';
  }
}

function refusal(holder: ClaimRecord, asker: ClaimOwner): string {
  if (holder.owner === 'command') return `Another bastion command is using this DATA_DIR (pid ${holder.pid}); wait for it to finish`;
  if (asker === 'command') return `Bastion is running with this DATA_DIR (pid ${holder.pid}); use the admin screen or stop it first`;
  return `Bastion is already running with this DATA_DIR (pid ${holder.pid}, since ${holder.startedAt}); the embedded database serves one process: stop it first, or set DATABASE_URL to run several on PostgreSQL`;
}

export interface DataDirClaim {
  readonly file: string;
  /** Removes the lock file if it is still this claim's; idempotent. */
  release(): void;
}

/** Claims `dataDir` for this process or throws `DataDirInUseError`; stale claims are taken over. */
export function claimDataDir(dataDir: string, owner: ClaimOwner): DataDirClaim {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, CLAIM_FILE);
  const record: ClaimRecord = { pid: process.pid, owner, startedAt: new Date().toISOString(), space: currentSpace(), processStart: processStartTime(process.pid), nonce: randomUUID() };
  const text = `${JSON.stringify(record)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      createComplete(file, text);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
    }
    const holder = readClaim(file);
    if (holder && isLive(holder.record, holder.mtimeMs)) throw new DataDirInUseError(holder.record, owner);
    // Stale (or unreadable: a holder killed between creating and writing it). Remove it only
    // if it is still the one judged, so two starters racing over it cannot both win.
    if (readClaim(file)?.text === holder?.text) fs.rmSync(file, { force: true });
  }
  let released = false;
  const ours = () => readClaim(file)?.record.nonce === record.nonce;
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now, () => undefined); // gone (DATA_DIR deleted under us): nothing to keep
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    process.removeListener('exit', release);
    if (ours()) fs.rmSync(file, { force: true });
  };
  // process.exit() skips close hooks; the file is removed anyway (kill -9 is handled by isLive).
  process.on('exit', release);
  return { file, release };
}

/**
 * Creates `file` with `text` unless it exists (EEXIST), never visible half-written: written
 * aside, then hard-linked into place (atomic, fails if the name exists). Where the file
 * system has no hard links, an exclusive create instead.
 */
function createComplete(file: string, text: string): void {
  const aside = `${file}.${process.pid}.${randomUUID()}`;
  fs.writeFileSync(aside, text, { flag: 'wx', mode: 0o600 });
  try {
    fs.linkSync(aside, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    fs.writeFileSync(file, text, { flag: 'wx', mode: 0o600 });
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

function readClaim(file: string): { record: ClaimRecord; text: string; mtimeMs: number } | null {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const { mtimeMs } = fs.statSync(file);
    const record = JSON.parse(text) as ClaimRecord;
    if (typeof record.pid !== 'number' || typeof record.space !== 'string') return null;
    return { record, text, mtimeMs };
  } catch {
    return null;
  }
}

export function isLive(record: ClaimRecord, mtimeMs: number, now = Date.now()): boolean {
  if (record.space === currentSpace()) {
    // Our own pid in a claim we do not hold: left by an earlier process that had our pid.
    if (record.pid === process.pid) return false;
    if (!processRuns(record.pid)) return false;
    return record.processStart === null || record.processStart === processStartTime(record.pid);
  }
  return now - mtimeMs < CLAIM_STALE_MS;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // runs, as another user
  }
}

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function currentSpace(): string {
  const bootId = read('/proc/sys/kernel/random/boot_id');
  let pidNamespace: string | null = null;
  try {
    pidNamespace = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    pidNamespace = null;
  }
  if (bootId && pidNamespace) return `${bootId}/${pidNamespace}`;
  return `host:${os.hostname()}`;
}

/** Field 22 of /proc/<pid>/stat (start time since boot); null where there is no /proc. */
function processStartTime(pid: number): string | null {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return null;
  // The command name (field 2) may contain spaces and parentheses: count from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}
