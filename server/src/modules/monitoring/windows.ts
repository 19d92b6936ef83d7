/**
 * Sliding windows in the store (memory or Redis), timed by the app's clock so tests
 * move time instead of sleeping. A window is ten sub-buckets of fixed-window counters
 * (`Store.increment`, as the rate limits use); its value is the sum of the buckets that
 * overlap the last `windowMs`. Distinct counts remember, per member, the bucket it was
 * last counted in: a member counts once per window. Keys expire on their own, so an
 * attack leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Store } from '../../platform/store/store.js';

const BUCKETS = 10;
/** Windows `once` remembers as already taken, per process; past this many it forgets them all. */
const MAX_TAKEN = 10_000;

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

export class SlidingWindows {
  /** `once` windows this process knows are taken (name, key, window → its bucket). */
  private readonly taken = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Adds `by` to the window of `name`/`key` and returns its total over the last `windowMs`. */
  async add(name: string, key: string, windowMs: number, by = 1): Promise<number> {
    const { bucket, bucketMs, base } = this.locate(name, key, windowMs);
    await this.store.increment(`${base}:${bucket}`, { ttlMs: windowMs + bucketMs, by });
    return this.sum(base, bucket);
  }

  /** The total over the last `windowMs` without adding. */
  async total(name: string, key: string, windowMs: number): Promise<number> {
    const { bucket, base } = this.locate(name, key, windowMs);
    return this.sum(base, bucket);
  }

  /** Adds `member` to the distinct set of `name`/`key`; returns how many distinct members the window holds. */
  async distinct(name: string, key: string, member: string, windowMs: number): Promise<number> {
    const { bucket, bucketMs, base } = this.locate(name, key, windowMs);
    const memberKey = `${base}:m:${digest(member)}`;
    const seen = await this.store.get(memberKey);
    if (seen === null || Number(seen) <= bucket - BUCKETS) {
      // compareAndSet: two processes seeing the same new member count it once.
      if (await this.store.compareAndSet(memberKey, seen, String(bucket), { ttlMs: windowMs + bucketMs })) {
        await this.store.increment(`${base}:${bucket}`, { ttlMs: windowMs + bucketMs });
      }
    }
    return this.sum(base, bucket);
  }

  /**
   * True once per `windowMs` for `name`/`key`: a rule that stays above its threshold
   * fires once per window, not on every further event. The store decides (set-if-absent,
   * so two processes asking at once get one true); after that this process remembers the
   * window is taken, so a principal that stays above a threshold — a flood, one request
   * after another — costs no store call per event for the rest of the window.
   */
  async once(name: string, key: string, windowMs: number): Promise<boolean> {
    const bucket = Math.floor(this.clock.now().getTime() / windowMs);
    const local = `${name}\0${windowMs}\0${key}`;
    if (this.taken.get(local) === bucket) return false;
    const first = await this.store.set(`mon:once:${name}:${digest(key)}:${bucket}`, '1', { ifAbsent: true, ttlMs: windowMs * 2 });
    if (this.taken.size >= MAX_TAKEN) this.taken.clear();
    this.taken.set(local, bucket);
    return first;
  }

  private locate(name: string, key: string, windowMs: number): { bucket: number; bucketMs: number; base: string } {
    const bucketMs = Math.max(1_000, Math.ceil(windowMs / BUCKETS));
    const bucket = Math.floor(this.clock.now().getTime() / bucketMs);
    return { bucket, bucketMs, base: `mon:w:${name}:${windowMs}:${digest(key)}` };
  }

  private async sum(base: string, bucket: number): Promise<number> {
    const buckets = Array.from({ length: BUCKETS }, (_, i) => bucket - i);
    const values = await Promise.all(buckets.map((b) => this.store.get(`${base}:${b}`)));
    return values.reduce((total, value) => total + Number(value ?? 0), 0);
  }
}
