/**
 * argon2id off the event loop: hashing runs in worker threads, never on the calling thread
 * nor on libuv's shared pool (where @node-rs/argon2's async calls run, and which cannot be
 * deprioritised).
 *
 * Two pools. The steady pool's one thread runs at the event loop's priority, so sign-ins keep
 * a core's fair share when the machine is busy (at nice +10 alone, a verification took 4× its
 * quiet time while a team of 100 arrived). The spare pool, one thread per further core, runs
 * at a lower priority (nice +10 on Linux): when the machine is idle a burst of sign-ins uses
 * every core, and when requests are waiting the event loop is scheduled first, so a sign-in
 * storm cannot take every core from everyone else's reads. On one core there is only the
 * spare pool.
 *
 * The steady thread stays up (the server starts it when it listens): starting a thread and
 * loading argon2 in it made the first sign-in after a quiet spell wait for both.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/** How much lower than the event loop the spare hashing threads run (Linux nice increment). */
export const HASHING_NICE_INCREMENT = 10;

type Task = { op: 'hash'; password: string; options: object } | { op: 'verify'; hash: string; password: string } | { op: 'priority' };

// Plain JavaScript beside src/ and dist/ (both two levels below server/), so tests and the build share it.
const WORKER = new URL('../../../workers/argon2.mjs', import.meta.url);

/** A piscina pool with the tasks this process has given it and not had back. */
interface Lane {
  pool: Piscina<Task, string | boolean | number>;
  threads: number;
  inFlight: number;
}

let lanes: { steady?: Lane; spare: Lane } | undefined;

function lane(threads: number, nice: number, minThreads: number): Lane {
  const pool = new Piscina<Task, string | boolean | number>({ filename: WORKER.href, minThreads, maxThreads: threads, idleTimeout: 30_000, ...(nice ? { niceIncrement: nice } : {}) });
  // A worker that fails rejects the task that ran on it; the pool's own 'error' event must not end the process.
  pool.on('error', () => undefined);
  return { pool, threads, inFlight: 0 };
}

function passwordLanes(): { steady?: Lane; spare: Lane } {
  if (lanes) return lanes;
  if (!existsSync(WORKER)) throw new Error(`The password hashing worker ${fileURLToPath(WORKER)} is missing: deploy server/workers/ beside server/dist/.`);
  const cores = availableParallelism();
  lanes = cores > 1 ? { steady: lane(1, 0, 1), spare: lane(cores - 1, HASHING_NICE_INCREMENT, 0) } : { spare: lane(1, HASHING_NICE_INCREMENT, 1) };
  return lanes;
}

/** The steady thread when it is free, then a spare one; with all busy, the lane with the shorter queue per thread. */
function pick(): Lane {
  const { steady, spare } = passwordLanes();
  if (!steady) return spare;
  if (steady.inFlight === 0) return steady;
  if (spare.inFlight < spare.threads) return spare;
  return steady.inFlight <= spare.inFlight / spare.threads ? steady : spare;
}

async function run(task: Task): Promise<string | boolean | number> {
  const chosen = pick();
  chosen.inFlight++;
  try {
    return await chosen.pool.run(task);
  } finally {
    chosen.inFlight--;
  }
}

/**
 * Starts the steady thread and loads argon2 in it, so the first sign-in does not wait for
 * either. A verification of nothing: it checks no password and is not counted.
 */
export async function warmPasswordPool(): Promise<void> {
  const { steady, spare } = passwordLanes();
  await (steady ?? spare).pool.run({ op: 'verify', hash: '', password: '' });
}

/** Stops the pools' threads (tasks in flight are refused); the next task starts new pools. */
export async function closePasswordPool(): Promise<void> {
  const closing = lanes;
  lanes = undefined;
  await Promise.all([closing?.steady?.pool.destroy(), closing?.spare.pool.destroy()]);
}

/** Hashing threads running now (started, idle or busy), in both pools. */
export function passwordThreads(): number {
  return (lanes?.steady?.pool.threads.length ?? 0) + (lanes?.spare.pool.threads.length ?? 0);
}

/** The nice value of each pool's threads (a thread of each is started if none runs): what the pools were given. */
export async function hashingPriorities(): Promise<{ steady?: number; spare: number }> {
  const { steady, spare } = passwordLanes();
  const priority = (of: Lane) => of.pool.run({ op: 'priority' }) as Promise<number>;
  return { ...(steady ? { steady: await priority(steady) } : {}), spare: await priority(spare) };
}

export async function hashInPool(password: string, options: object): Promise<string> {
  return (await run({ op: 'hash', password, options })) as string;
}

let verifications = 0;

/** How many verifications this process has started: sign-in's tests count the work per attempt. */
export function verificationsStarted(): number {
  return verifications;
}

/** False for a wrong password and for a malformed stored hash. */
export async function verifyInPool(hash: string, password: string): Promise<boolean> {
  verifications++;
  return (await run({ op: 'verify', hash, password })) as boolean;
}
