/**
 * Checkpoints of a streaming answer: the partial text is saved while it grows, so a crash
 * or a lost connection never loses what the reader has already seen.
 */

const CHECKPOINT_MS = 1_000;

/** Saves the partial answer at most once per second, one write at a time. */
export class Checkpointer {
  private pending: string | null = null;
  private last = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly save: (text: string) => Promise<void>) {}

  /** Offers the text so far; it is saved now if the last save is a second old, else with a later offer. */
  offer(text: string): void {
    this.pending = text;
    const now = Date.now();
    if (now - this.last < CHECKPOINT_MS) return;
    this.last = now;
    this.running = this.running.then(async () => {
      const next = this.pending;
      this.pending = null;
      if (next !== null) await this.save(next).catch(() => undefined); // the final save reports errors
    });
  }

  /** Waits for the save in flight, so the final save cannot be overwritten by a late checkpoint. */
  async settle(): Promise<void> {
    await this.running;
  }
}
