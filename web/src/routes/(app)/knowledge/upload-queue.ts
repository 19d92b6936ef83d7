/**
 * The upload queue behind the drop zone, as plain logic (no Svelte, no DOM): files are sent
 * a few at a time; each is checked first against the server's limit and accepted types
 * (GET /auth/options), so a file the server would refuse is refused before a byte is sent;
 * a shed upload (503, 429, or a network failure) is retried after the server's Retry-After
 * (delta-seconds or an HTTP date), a bounded number of times; a refusal (type, size, malware,
 * quota) is shown at once with the server's message. Failed files can be retried by hand.
 * The server checks every file again: these checks only spare people the wait.
 */
import { formatBytes } from '$lib/components/format';

/** What the server accepts (the `uploads` of GET /auth/options). */
export interface UploadLimits {
  maxBytes: number;
  /** The setting that sets maxBytes, named in the message (UPLOAD_MAX_BYTES). */
  maxBytesSetting: string;
  types: { kind: string; extensions: string[]; mimeTypes: string[] }[];
}

/** The parts of a File the queue reads. */
export interface FileLike {
  name: string;
  size: number;
  type: string;
}

/** Why `file` cannot be uploaded, as a message naming the limit; null when it may be sent. */
export function checkFile(file: FileLike, limits: UploadLimits | null): string | null {
  if (file.size === 0) return `${file.name} is empty.`;
  if (!limits) return null; // limits unknown (an older server): the server checks
  if (file.size > limits.maxBytes) return `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.maxBytes)} (${limits.maxBytesSetting}).`;
  const dot = file.name.lastIndexOf('.');
  const extension = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : '';
  const type = limits.types.find((t) => t.extensions.includes(extension));
  if (!type) {
    const accepted = limits.types.map((t) => `.${t.kind}`);
    const list = accepted.length > 1 ? `${accepted.slice(0, -1).join(', ')} or ${accepted.at(-1)}` : (accepted[0] ?? 'none');
    return `${file.name}: ${extension ? `.${extension} files are` : 'files without an extension are'} not accepted; upload ${list}.`;
  }
  const declared = file.type.split(';')[0]!.trim().toLowerCase();
  if (declared !== '' && !type.mimeTypes.includes(declared)) return `${file.name} is declared as ${declared}, which is not accepted for .${extension} files.`;
  return null;
}

export interface RetryPolicy {
  /** Tries per file, the first included. */
  maxAttempts: number;
  /** Wait before retry n without a Retry-After: base × 2^(n−1), capped. */
  baseDelayMs: number;
  /** The longest wait, whatever Retry-After asks. */
  maxDelayMs: number;
}

export const DEFAULT_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 2_000, maxDelayMs: 30_000 };

/** Milliseconds a Retry-After value asks for (delta-seconds or an HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  const text = value?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The wait before retry number `retry` (1 for the first): the server's Retry-After when sent, else exponential; at most maxDelayMs. */
export function retryDelayMs(retryAfter: string | null | undefined, retry: number, now: number, policy: RetryPolicy = DEFAULT_POLICY): number {
  const asked = parseRetryAfter(retryAfter, now);
  const wait = asked ?? policy.baseDelayMs * 2 ** (retry - 1);
  return Math.min(Math.max(wait, 0), policy.maxDelayMs);
}

/** Whether an upload error is worth retrying: the server shed it (503, 429, 502, 504) or the network failed. */
export function transient(error: unknown): { retry: boolean; retryAfter: string | null } {
  if (error instanceof DOMException && error.name === 'AbortError') return { retry: false, retryAfter: null };
  if (error instanceof TypeError) return { retry: true, retryAfter: null }; // network error
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status !== 'number') return { retry: false, retryAfter: null };
  const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
  return { retry: [429, 502, 503, 504].includes(status), retryAfter: typeof retryAfter === 'string' ? retryAfter : null };
}

export type UploadState =
  | { state: 'waiting' }
  | { state: 'uploading'; progress: number }
  | { state: 'retrying'; seconds: number; attempt: number; maxAttempts: number; reason: string }
  | { state: 'done' }
  /** retryable: false for a file refused before sending (retrying cannot help). */
  | { state: 'failed'; message: string; retryable: boolean };

/** One file's row, as the drop zone shows it. */
export type UploadRow = { key: number; name: string; size: number } & UploadState;

export interface QueueOptions<F extends FileLike, T> {
  /** Sends one file; rejects with an error carrying `status` and `retryAfter` (ApiError) or a TypeError (network). */
  send: (file: F, onProgress: (fraction: number) => void) => Promise<T>;
  /** Told of every change, with a fresh copy of the rows. */
  onChange: (rows: UploadRow[]) => void;
  onDone?: (result: T, file: F) => void;
  /** A refusal before sending (checkFile), or null. */
  check?: (file: F) => string | null;
  /** A message for people from an error send threw. */
  describe?: (error: unknown) => string;
  /** Files sent at once (default 2): the server's overload guard sheds bursts. */
  concurrency?: number;
  policy?: RetryPolicy;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Item<F> {
  key: number;
  file: F;
  status: UploadState;
}

export class UploadQueue<F extends FileLike, T> {
  private readonly items: Item<F>[] = [];
  private active = 0;
  private nextKey = 0;
  private readonly concurrency: number;
  private readonly policy: RetryPolicy;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: QueueOptions<F, T>) {
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.policy = options.policy ?? DEFAULT_POLICY;
    this.now = options.now ?? (() => Date.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get rows(): UploadRow[] {
    return this.items.map((item) => ({ key: item.key, name: item.file.name, size: item.file.size, ...item.status }));
  }

  /** Queues the files; those the check refuses fail at once, the others wait for a slot. */
  add(files: Iterable<F>): void {
    for (const file of files) {
      const refusal = this.options.check?.(file) ?? null;
      this.items.push({ key: this.nextKey++, file, status: refusal ? { state: 'failed', message: refusal, retryable: false } : { state: 'waiting' } });
    }
    this.changed();
    this.pump();
  }

  /** Sends a failed file again (the Retry button), with a fresh set of attempts. */
  retry(key: number): void {
    const item = this.items.find((i) => i.key === key);
    if (item?.status.state !== 'failed' || !item.status.retryable) return;
    item.status = { state: 'waiting' };
    this.changed();
    this.pump();
  }

  /** Removes finished rows (done, or failed and not being retried). */
  clearFinished(): void {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const state = this.items[i]!.status.state;
      if (state === 'done' || state === 'failed') this.items.splice(i, 1);
    }
    this.changed();
  }

  /** Resolves once nothing is waiting, uploading or retrying (for tests). */
  async idle(): Promise<void> {
    while (this.active > 0 || this.items.some((i) => i.status.state === 'waiting')) await new Promise((resolve) => setTimeout(resolve, 0));
  }

  private pump(): void {
    while (this.active < this.concurrency) {
      const item = this.items.find((i) => i.status.state === 'waiting');
      if (!item) return;
      this.active++;
      item.status = { state: 'uploading', progress: 0 };
      void this.run(item).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  /** Sends one file until it is accepted, refused, or out of attempts; a retrying file keeps its slot. */
  private async run(item: Item<F>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      item.status = { state: 'uploading', progress: 0 };
      this.changed();
      try {
        const result = await this.options.send(item.file, (fraction) => {
          if (item.status.state !== 'uploading') return;
          item.status = { state: 'uploading', progress: Math.min(1, Math.max(0, fraction)) };
          this.changed();
        });
        item.status = { state: 'done' };
        this.changed();
        this.options.onDone?.(result, item.file);
        return;
      } catch (error) {
        const message = this.options.describe?.(error) ?? (error instanceof Error ? error.message : 'The upload failed.');
        const { retry, retryAfter } = transient(error);
        if (!retry || attempt >= this.policy.maxAttempts) {
          item.status = { state: 'failed', message, retryable: true };
          this.changed();
          return;
        }
        await this.countdown(item, retryDelayMs(retryAfter, attempt, this.now(), this.policy), attempt + 1, message);
      }
    }
  }

  /** Waits `ms`, showing the seconds left, once a second. */
  private async countdown(item: Item<F>, ms: number, attempt: number, reason: string): Promise<void> {
    const until = this.now() + ms;
    for (let left = ms; left > 0; left = until - this.now()) {
      item.status = { state: 'retrying', seconds: Math.ceil(left / 1000), attempt, maxAttempts: this.policy.maxAttempts, reason };
      this.changed();
      await this.sleep(Math.min(1_000, left));
    }
  }

  private changed(): void {
    this.options.onChange(this.rows);
  }
}
