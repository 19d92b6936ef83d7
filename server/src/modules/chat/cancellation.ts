/**
 * Cancelling an answer in progress, from any API copy: the cancel request aborts the
 * answers running in this process and leaves a flag on the shared store that the
 * copy streaming the answer polls.
 */
import type { Store } from '../../platform/store/store.js';

const FLAG_TTL_MS = 5 * 60_000;
const POLL_MS = 250;

export class Cancellations {
  private readonly running = new Map<string, Set<AbortController>>();

  constructor(private readonly store: Store) {}

  /** Registers an answer; the returned signal aborts with reason 'cancelled'. Call `done` when it ends. */
  track(conversationId: string, startedAt: number): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const set = this.running.get(conversationId) ?? new Set();
    set.add(controller);
    this.running.set(conversationId, set);
    const timer = setInterval(() => {
      void this.store.get(flagKey(conversationId)).then(
        (value) => {
          if (value !== null && Number(value) >= startedAt) controller.abort('cancelled');
        },
        () => undefined, // the store being down must not end the answer
      );
    }, POLL_MS);
    timer.unref();
    return {
      signal: controller.signal,
      done: () => {
        clearInterval(timer);
        set.delete(controller);
        if (set.size === 0) this.running.delete(conversationId);
      },
    };
  }

  /** Cancels every answer of the conversation started before now; returns whether one ran here. */
  async cancel(conversationId: string, now: number): Promise<boolean> {
    await this.store.set(flagKey(conversationId), String(now), { ttlMs: FLAG_TTL_MS });
    const set = this.running.get(conversationId);
    for (const controller of set ?? []) controller.abort('cancelled');
    return (set?.size ?? 0) > 0;
  }
}

function flagKey(conversationId: string): string {
  return `chat:cancel:${conversationId}`;
}
