/** The machine a bench runs on, for the report's header: cores and load. */
import os from 'node:os';

export function cores(): number {
  return os.cpus().length;
}

/** The one-minute load average. */
export function loadAverage(): number {
  return os.loadavg()[0]!;
}
