/** Debian's `wrk` (apt-get install wrk): one run, parsed. */
import { execFileSync } from 'node:child_process';

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** Socket errors (connect, read, write, timeout) wrk counted. */
  socketErrors: number;
}

export interface WrkOptions {
  connections?: number;
  seconds?: number;
  headers?: string[];
}

/** `wrk -t1 -c<connections> -d<seconds>s --latency`: requests per second, p50/p99 in ms, non-2xx count. */
export function wrk(url: string, options: WrkOptions = {}): WrkResult {
  const { connections = 100, seconds = 10, headers = [] } = options;
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const ms = (label: string) => {
    const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: ms('50%'),
    p99: ms('99%'),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: (/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1) ?? []).reduce((sum, n) => sum + Number(n), 0),
  };
}

/** Whether wrk is installed (the gate and bench:http need it). */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version
    return (error as { status?: number }).status === 1;
  }
}
