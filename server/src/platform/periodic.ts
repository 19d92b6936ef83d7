/**
 * A job every process runs while it is up: now, every `intervalMs`, and soon after a
 * `nudge()`. Runs never overlap in one process; a failed run (the database down) is logged
 * and the next one retries, so the job's owner keeps working through an outage.
 */
import type { Logger } from 'pino';

export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private nudged: NodeJS.Timeout | undefined;
  private busy = false;
  private again = false;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly work: () => Promise<unknown>,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.run();
    this.timer = setInterval(() => this.run(), this.intervalMs);
    this.timer.unref();
  }

  /** Asks for a run within `delayMs` (coalesced); one arriving during a run makes another follow it. Nothing while stopped. */
  nudge(delayMs = 25): void {
    if (!this.timer || this.nudged) return;
    this.nudged = setTimeout(() => {
      this.nudged = undefined;
      this.run();
    }, delayMs);
    this.nudged.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.nudged);
    this.timer = undefined;
    this.nudged = undefined;
    await this.running;
  }

  private run(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.running = this.work()
      .catch((error: unknown) => this.logger.warn({ err: error }, `${this.name} failed; the next run retries`))
      .finally(() => {
        this.busy = false;
        if (this.again && this.timer) {
          this.again = false;
          this.run();
        }
      });
  }
}
