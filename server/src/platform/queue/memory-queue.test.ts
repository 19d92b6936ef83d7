/**
 * What only the in-process queue has: its bound, and backoff driven by the injected
 * random source on (fake) timers. The shared behaviour is in queue.contract.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryQueue, QueueFullError } from './memory-queue.js';
import { retryDelay } from './queue.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('retryDelay', () => {
  it('doubles per retry and jitters down by up to half', () => {
    expect([1, 2, 3, 4].map((retry) => retryDelay(retry, 1_000, () => 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map((retry) => retryDelay(retry, 1_000, () => 0.999_999))).toEqual([999, 1_999, 3_999, 7_999]);
    expect(retryDelay(1, 0, () => 0.5)).toBe(0);
  });
});

describe('MemoryQueue', () => {
  it('refuses jobs beyond maxJobs, but still takes an id it already holds', async () => {
    const queue = new MemoryQueue({ maxJobs: 2 });
    await queue.add('ingest', {}, { jobId: 'doc-1' });
    await queue.add('other', {}, { jobId: 'doc-2', delayMs: 60_000 });
    await expect(queue.add('ingest', {}, { jobId: 'doc-3' })).rejects.toBeInstanceOf(QueueFullError);
    await queue.add('ingest', {}, { jobId: 'doc-1' }); // already held: a no-op, not an error
    let runs = 0;
    queue.process('ingest', async () => void (runs += 1), { concurrency: 1 });
    await vi.waitFor(() => expect(runs).toBe(1));
    await queue.add('ingest', {}, { jobId: 'doc-3' }); // room again once doc-1 is done
    await vi.waitFor(() => expect(runs).toBe(2));
    await queue.close();
  });

  it('waits the backoff the injected random source gives, on timers', async () => {
    vi.useFakeTimers();
    const queue = new MemoryQueue({ random: () => 0 });
    const attempts: number[] = [];
    queue.process(
      'ingest',
      async (job) => {
        attempts.push(job.attempt);
        throw new Error('again');
      },
      { concurrency: 1 },
    );
    await queue.add('ingest', {}, { jobId: 'doc-1', attempts: 3, backoffMs: 1_000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toEqual([1]);
    await vi.advanceTimersByTimeAsync(499); // first retry after 1000·½
    expect(attempts).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(999); // second after 2000·½
    expect(attempts).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toEqual([1, 2, 3]);
    expect(await queue.counts('ingest')).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 1 });
    await queue.close();
  });

  it('gives each run its own copy of the data, as JSON', async () => {
    const queue = new MemoryQueue();
    const data = { list: [1], when: new Date(0) };
    const seen: object[] = [];
    await queue.add('ingest', data, { jobId: 'doc-1' });
    data.list.push(2);
    queue.process('ingest', async (job) => void seen.push(job.data), { concurrency: 1 });
    await vi.waitFor(() => expect(seen).toEqual([{ list: [1], when: '1970-01-01T00:00:00.000Z' }]));
    await queue.close();
  });
});
