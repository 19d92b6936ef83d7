/**
 * Free space where the embedded database keeps its files, and the guard that keeps writes
 * away from a full disk.
 *
 * Why: PGlite does not survive ENOSPC. When PostgreSQL's WAL writer cannot create its next
 * 16 MiB segment, the statement fails with `disk_full` (53100) and every later statement
 * spins forever inside XLogFlush (a WAL lock is left held), blocking the event loop even
 * after space returns. So changes are refused before they start while less than
 * STORAGE_MIN_FREE_BYTES is free, and large writes (uploads, ingestion) reserve their
 * estimated size first. pglite-dialect.ts stops using an instance that hit the edge anyway.
 */
import { statfs } from 'node:fs/promises';
import { AppError } from '../../errors.js';

/** Resolves to the bytes an unprivileged process may still write on the filesystem. */
export type FreeSpaceReader = () => Promise<number>;

/** `unchecked`: no guard (PostgreSQL: its disk is the database server's concern). */
export type StorageStatus = 'ok' | 'low' | 'failed' | 'unchecked';

export interface StorageState {
  status: StorageStatus;
  /** Free bytes at the last reading; null when not measured. */
  freeBytes: number | null;
}

/** Space set aside by a large write until it is done; release it in a finally. */
export interface Reservation {
  release(): void;
}

/** The free bytes of the filesystem holding `dir` (statfs: available blocks × block size). */
export function statfsReader(dir: string): FreeSpaceReader {
  return async () => {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  };
}

/** How long one reading is reused: a statfs per second, not one per request. */
export const FREE_SPACE_CACHE_MS = 1_000;

export interface StorageGuardOptions {
  read: FreeSpaceReader;
  /** STORAGE_MIN_FREE_BYTES: the space kept free for the database's own growth. */
  minFreeBytes: number;
  cacheMs?: number;
  now?: () => number;
  /** Told when a reading fails (the guard then lets writes through and reports `failed`). */
  onReadError?: (error: unknown) => void;
}

export class StorageGuard {
  private reading: { at: number; bytes: Promise<number> } | undefined;
  private reserved = 0;

  private constructor(private readonly options: (StorageGuardOptions & { cacheMs: number; now: () => number }) | null) {}

  /** A guard over `read` with STORAGE_MIN_FREE_BYTES = `minFreeBytes`. */
  static over(options: StorageGuardOptions): StorageGuard {
    return new StorageGuard({ cacheMs: FREE_SPACE_CACHE_MS, now: Date.now, ...options });
  }

  /** No guard: every write passes and readiness reports `unchecked`. */
  static off(): StorageGuard {
    return new StorageGuard(null);
  }

  /** The state for readiness: `low` once free space is under the threshold. */
  async state(): Promise<StorageState> {
    if (!this.options) return { status: 'unchecked', freeBytes: null };
    const free = await this.free();
    if (free === null) return { status: 'failed', freeBytes: null };
    return { status: free < this.options.minFreeBytes ? 'low' : 'ok', freeBytes: free };
  }

  /** Throws 507 `insufficient_storage` while free space is under the threshold. */
  async assertWritable(): Promise<void> {
    if ((await this.state()).status === 'low') throw this.lowError();
  }

  /**
   * Sets `bytes` aside for a large write, or throws 507 when they would not fit above the
   * threshold next to the writes already reserved. A failed reading lets the write through.
   */
  async reserve(bytes: number): Promise<Reservation> {
    const options = this.options;
    if (!options) return { release: () => undefined };
    const free = await this.free();
    if (free !== null) {
      if (free < options.minFreeBytes) throw this.lowError();
      const room = free - options.minFreeBytes - this.reserved;
      if (bytes > room) {
        throw new AppError(
          'insufficient_storage',
          `This needs about ${formatBytes(bytes)} but only ${formatBytes(Math.max(0, room))} is free under DATA_DIR above the ${formatBytes(options.minFreeBytes)} kept free (STORAGE_MIN_FREE_BYTES); free disk space there or send a smaller file.`,
        );
      }
    }
    this.reserved += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.reserved -= bytes;
        this.reading = undefined; // the space is used now: measure again rather than trust the old reading
      },
    };
  }

  private lowError(): AppError {
    const min = formatBytes(this.options?.minFreeBytes ?? 0);
    return new AppError(
      'insufficient_storage',
      `Less than ${min} is free under DATA_DIR (STORAGE_MIN_FREE_BYTES), so changes are refused to protect the embedded database; free disk space there or lower the threshold. Writes resume by themselves once space is back.`,
    );
  }

  /** The cached reading (one statfs in flight at a time), or null when it failed. */
  private async free(): Promise<number | null> {
    const options = this.options!;
    const now = options.now();
    if (!this.reading || now - this.reading.at >= options.cacheMs) {
      const bytes = options.read();
      bytes.catch((error: unknown) => options.onReadError?.(error)); // told once per reading, not per caller
      this.reading = { at: now, bytes };
    }
    try {
      return await this.reading.bytes;
    } catch {
      return null;
    }
  }
}

/** 67108864 → "64 MiB"; binary units, as `df -h` prints them. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || Number.isInteger(value) || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown} ${units[unit]}`;
}
