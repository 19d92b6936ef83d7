/** The bulkhead: never more than its limit at once, turns in arrival order, a failure frees its turn. */
import { describe, expect, it } from 'vitest';
import { Bulkhead } from './bulkhead.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('Bulkhead', () => {
  it('runs at most its limit at once and the rest in the order they came', async () => {
    const bulkhead = new Bulkhead(3);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        bulkhead.run(async () => {
          started.push(i);
          running++;
          most = Math.max(most, running);
          await tick();
          running--;
          return i * 2;
        }),
      ),
    );
    expect(most).toBe(3);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect([bulkhead.active, bulkhead.queued]).toEqual([0, 0]);
  });

  it('frees the turn of a task that fails, and reports the failure to its caller only', async () => {
    const bulkhead = new Bulkhead(1);
    const failing = bulkhead.run(async () => {
      await tick();
      throw new Error('database went away');
    });
    const waiting = bulkhead.run(async () => 'next');
    expect([bulkhead.active, bulkhead.queued]).toEqual([1, 1]);
    await expect(failing).rejects.toThrow('database went away');
    await expect(waiting).resolves.toBe('next');
    expect([bulkhead.active, bulkhead.queued]).toEqual([0, 0]);
  });

  it('refuses a limit under one', () => {
    expect(() => new Bulkhead(0)).toThrow(RangeError);
    expect(() => new Bulkhead(1.5)).toThrow(RangeError);
  });
});
