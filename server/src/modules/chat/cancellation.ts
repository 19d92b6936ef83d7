/**
 * Cancelling an answer in progress, from any API copy. The cancel request aborts the
 * answers running in this process, leaves a flag on the shared store and broadcasts it;
 * every copy aborts its own answers of that conversation when the broadcast arrives.
 *
 * The flag is for a copy that may have missed the broadcast: while its subscription is
 * not live (the store's broadcast connection is down or coming back) it reads the flag of
 * each of its running answers every POLL_MS, and when the subscription comes back (reset)
 * it reads them once. While the subscription is live nothing is polled: polling cost a
 * store read per answer every 250 ms, about 400 a second at 100 streams, for a button
 * that is rarely pressed.
 */
import type { Store, Subscription } from '../../platform/store/store.js';

const FLAG_TTL_MS = 5 * 60_000;
export const POLL_MS = 250;
const CHANNEL = 'chat:cancel';

interface Running {
  controller: AbortController;
  startedAt: number;
}

export class Cancellations {
  private readonly running = new Map<string, Set<Running>>();
  private readonly subscription: Subscription;
  private poller: NodeJS.Timeout | null = null;

  constructor(private readonly store: Store) {
    this.subscription = store.subscribe(CHANNEL, {
      message: (message) => {
        const space = message.indexOf(' ');
        this.abort(message.slice(0, space), Number(message.slice(space + 1)));
      },
      // Broadcasts may have been missed: read the flags once.
      reset: () => void this.readFlags(),
    });
  }

  /** Registers an answer; the returned signal aborts with reason 'cancelled'. Call `done` when it ends. */
  track(conversationId: string, startedAt: number): { signal: AbortSignal; done: () => void } {
    const entry: Running = { controller: new AbortController(), startedAt };
    const set = this.running.get(conversationId) ?? new Set();
    set.add(entry);
    this.running.set(conversationId, set);
    this.poller ??= setInterval(() => {
      if (!this.subscription.live) void this.readFlags();
    }, POLL_MS).unref();
    return {
      signal: entry.controller.signal,
      done: () => {
        set.delete(entry);
        if (set.size === 0 && this.running.get(conversationId) === set) this.running.delete(conversationId);
        if (this.running.size === 0 && this.poller) {
          clearInterval(this.poller);
          this.poller = null;
        }
      },
    };
  }

  /** Cancels every answer of the conversation started before now; returns whether one ran here. */
  async cancel(conversationId: string, now: number): Promise<boolean> {
    await this.store.set(flagKey(conversationId), String(now), { ttlMs: FLAG_TTL_MS });
    // Every answer running here started before this request, whatever the clock says.
    const here = this.abort(conversationId, Number.POSITIVE_INFINITY);
    await this.store.publish(CHANNEL, `${conversationId} ${now}`);
    return here;
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    await this.subscription.close();
  }

  /** Aborts this process's answers of the conversation started at or before `before`; true when there was one. */
  private abort(conversationId: string, before: number): boolean {
    let found = false;
    for (const entry of this.running.get(conversationId) ?? []) {
      if (entry.startedAt > before) continue;
      found = true;
      entry.controller.abort('cancelled');
    }
    return found;
  }

  private async readFlags(): Promise<void> {
    await Promise.all(
      [...this.running.keys()].map(async (conversationId) => {
        try {
          const value = await this.store.get(flagKey(conversationId));
          if (value !== null) this.abort(conversationId, Number(value));
        } catch {
          // The store being down must not end the answer.
        }
      }),
    );
  }
}

function flagKey(conversationId: string): string {
  return `chat:cancel:${conversationId}`;
}
