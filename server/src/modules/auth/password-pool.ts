/**
 * argon2id off the event loop and below it: hashing runs in a pool of worker threads, one
 * per core, at a lower scheduling priority (nice +10 on Linux). When the machine is idle a
 * burst of sign-ins uses every core; when requests are waiting, the event loop thread is
 * scheduled first, so a sign-in storm slows sign-ins, not everyone else's reads.
 * (libuv's shared pool, where @node-rs/argon2's async calls run, cannot be deprioritised.)
 *
 * One thread stays up (and the server starts it when it listens): starting a thread and
 * loading argon2 in it made the first sign-in after a quiet spell wait for both.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/** How much lower than the event loop the hashing threads run (Linux nice increment). */
export const HASHING_NICE_INCREMENT = 10;

type Task = { op: 'hash'; password: string; options: object } | { op: 'verify'; hash: string; password: string };

let pool: Piscina<Task, string | boolean> | undefined;

// Plain JavaScript beside src/ and dist/ (both two levels below server/), so tests and the build share it.
const WORKER = new URL('../../../workers/argon2.mjs', import.meta.url);

function passwordPool(): Piscina<Task, string | boolean> {
  if (pool) return pool;
  if (!existsSync(WORKER)) throw new Error(`The password hashing worker ${fileURLToPath(WORKER)} is missing: deploy server/workers/ beside server/dist/.`);
  pool = new Piscina({
    filename: WORKER.href,
    minThreads: 1,
    maxThreads: availableParallelism(),
    idleTimeout: 30_000,
    niceIncrement: HASHING_NICE_INCREMENT,
  });
  // A worker that fails rejects the task that ran on it; the pool's own 'error' event must not end the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Starts the pool's first thread and loads argon2 in it, so the first sign-in does not wait
 * for either. A verification of nothing: it checks no password and is not counted.
 */
export async function warmPasswordPool(): Promise<void> {
  await passwordPool().run({ op: 'verify', hash: '', password: '' });
}

/** Stops the pool's threads (tasks in flight are refused); the next task starts a new pool. */
export async function closePasswordPool(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.destroy();
}

/** Threads the pool has running now (started, idle or busy). */
export function passwordThreads(): number {
  return pool?.threads.length ?? 0;
}

export async function hashInPool(password: string, options: object): Promise<string> {
  return (await passwordPool().run({ op: 'hash', password, options })) as string;
}

let verifications = 0;

/** How many verifications this process has started: sign-in's tests count the work per attempt. */
export function verificationsStarted(): number {
  return verifications;
}

/** False for a wrong password and for a malformed stored hash. */
export async function verifyInPool(hash: string, password: string): Promise<boolean> {
  verifications++;
  return (await passwordPool().run({ op: 'verify', hash, password })) as boolean;
}
