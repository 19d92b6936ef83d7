import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../platform/clock.js';
import { MemoryStore } from '../../platform/store/memory-store.js';
import type { Store } from '../../platform/store/store.js';
import { trafficObserver, type TrafficDeps } from './traffic.js';

describe('trafficObserver', () => {
  it('settle writes the counts of the answers already sent, without waiting for the batch timer', async () => {
    const inner = new MemoryStore({ maxKeys: 1_000, sweepIntervalMs: 0 });
    let counted = 0;
    const store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'increment') {
          return async (key: string, options: { ttlMs: number; by?: number }) => {
            const result = await target.increment(key, options);
            counted += options.by ?? 1;
            return result;
          };
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    }) as Store;
    const deps: TrafficDeps = {
      store,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      // Neither is reached: no answer here is a refusal, and the volume threshold is far off.
      events: {} as TrafficDeps['events'],
      detector: {} as TrafficDeps['detector'],
      thresholds: { windowMs: 60_000, enumeration: 0, volume: 1_000_000, errorRatio: 0, errorMin: 0 },
      allowedOrigins: new Set(),
      anyOrigin: false,
    };
    const traffic = trafficObserver(deps, 60_000); // no batch timer within the test: only settle writes
    const app = Fastify();
    app.addHook('onResponse', traffic.hook);
    app.get('/api/v1/ping', async () => ({ ok: true }));
    const answers = await Promise.all(Array.from({ length: 25 }, () => app.inject({ method: 'GET', url: '/api/v1/ping' })));
    expect(answers.every((answer) => answer.statusCode === 200)).toBe(true);
    expect(counted).toBe(0); // still batched
    await traffic.settle();
    expect(counted).toBe(25);
    await app.close();
  });
});
