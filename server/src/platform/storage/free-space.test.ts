import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { formatBytes, StorageGuard } from './free-space.js';

const MiB = 1024 * 1024;

function guard(free: { bytes: number }, minFreeBytes = 64 * MiB) {
  let now = 0;
  let reads = 0;
  const storage = StorageGuard.over({
    read: async () => {
      reads++;
      return free.bytes;
    },
    minFreeBytes,
    now: () => now,
  });
  return { storage, advance: (ms: number) => (now += ms), reads: () => reads };
}

describe('StorageGuard', () => {
  it('reports low and refuses changes with 507 below the threshold, naming the setting', async () => {
    const free = { bytes: 63 * MiB };
    const { storage, advance } = guard(free);
    expect(await storage.state()).toEqual({ status: 'low', freeBytes: 63 * MiB });
    const error = await storage.assertWritable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'insufficient_storage', status: 507 });
    expect((error as AppError).message).toContain('64 MiB');
    expect((error as AppError).message).toContain('STORAGE_MIN_FREE_BYTES');
    free.bytes = 200 * MiB;
    advance(1_000);
    await expect(storage.assertWritable()).resolves.toBeUndefined();
    expect((await storage.state()).status).toBe('ok');
  });

  it('measures at most once per second however many requests ask', async () => {
    const { storage, reads, advance } = guard({ bytes: 500 * MiB });
    await Promise.all(Array.from({ length: 50 }, () => storage.assertWritable()));
    expect(reads()).toBe(1);
    advance(1_000);
    await storage.state();
    expect(reads()).toBe(2);
  });

  it('counts concurrent reservations together, so parallel uploads cannot overfill the disk', async () => {
    const { storage } = guard({ bytes: 100 * MiB }); // 36 MiB above the threshold
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => storage.reserve(10 * MiB)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'insufficient_storage' });
    expect(refused.reason.message).toContain('smaller file');
    // Released space is available again.
    for (const r of results) if (r.status === 'fulfilled') r.value.release();
    await expect(storage.reserve(30 * MiB)).resolves.toBeDefined();
  });

  it('lets writes through and reports failed when free space cannot be measured', async () => {
    const errors: unknown[] = [];
    const storage = StorageGuard.over({ read: () => Promise.reject(new Error('EIO')), minFreeBytes: MiB, onReadError: (e) => errors.push(e) });
    await expect(storage.assertWritable()).resolves.toBeUndefined();
    expect((await storage.state()).status).toBe('failed');
    expect(errors).toHaveLength(1);
  });

  it('is off on PostgreSQL', async () => {
    const storage = StorageGuard.off();
    expect(await storage.state()).toEqual({ status: 'unchecked', freeBytes: null });
    await expect(storage.reserve(Number.MAX_SAFE_INTEGER)).resolves.toBeDefined();
  });

  it('prints sizes as df -h does', () => {
    expect(formatBytes(67_108_864)).toBe('64 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12)).toBe('12 bytes');
  });
});
