/**
 * At most `limit` tasks of one kind at once in this process; the others wait their turn,
 * first come, first served. For work whose cost lands on a shared resource that only gets
 * slower when more of it runs at once (the database's CPU for full-text ranking): past that
 * point every task in flight is slowed, so queueing the rest keeps both the throughput and
 * the slowest answers better than letting them all in.
 */
export class Bulkhead {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`A bulkhead needs a limit of at least 1, not ${limit}.`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` when a turn is free; its turn ends when it settles, whether it succeeded or not. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the turn is handed over, `running` unchanged
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
