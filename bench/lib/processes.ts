/** Child processes of a bench: start, wait until they answer, stop, and never leave one behind. */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { ROOT } from './paths.js';

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')));

/** Registers a child so it is killed if the bench exits while it still runs. */
export function track(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

export interface StartOptions {
  /** Environment of the child besides PATH (nothing else is inherited). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdio?: StdioOptions;
}

/** Runs `node <args>` (tracked); stdout is dropped and stderr shown unless `stdio` says otherwise. */
export function startNode(args: string[], options: StartOptions = {}): ChildProcess {
  const { env = {}, cwd = ROOT, stdio = ['ignore', 'ignore', 'inherit'] } = options;
  return track(spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH, ...env }, stdio }));
}

export interface WaitOptions {
  /** How often to try (default 120). */
  attempts?: number;
  /** Pause between tries (default 250 ms). */
  intervalMs?: number;
  /** Whether a status means "up" (default: any answer below 500). */
  ready?: (status: number) => boolean;
}

/** Polls `url` until it answers as `ready`; throws after `attempts` tries. */
export async function waitUp(url: string, options: WaitOptions = {}): Promise<void> {
  const { attempts = 120, intervalMs = 250, ready = (status) => status < 500 } = options;
  for (let i = 0; i < attempts; i++) {
    try {
      if (ready((await fetch(url)).status)) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} did not come up`);
}

/** SIGTERM, then SIGKILL if the child has not exited after `killAfterMs` (default 20 s); resolves once it exited. */
export async function stop(child: ChildProcess, killAfterMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}

/** Throws when something already answers on `port` (a stale server would be measured instead). */
export async function assertPortFree(port: number, hint = ''): Promise<void> {
  try {
    await fetch(`http://127.0.0.1:${port}/healthz`);
  } catch {
    return; // nothing listens
  }
  throw new Error(`port ${port} is already in use${hint ? `: ${hint}` : ''}`);
}
