import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { closeAppThenBackends } from './serve.js';

describe('closeAppThenBackends', () => {
  it("closes the backends only after every onClose hook of the app ran, a module's included", async () => {
    const app = Fastify();
    let backendsOpen = true;
    const seenByHooks: boolean[] = [];
    // Like a module stopping its indexer: it still needs the database.
    app.addHook('onClose', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seenByHooks.push(backendsOpen);
    });
    await app.register(async (child) => child.addHook('onClose', async () => void seenByHooks.push(backendsOpen)));
    await app.ready();
    await closeAppThenBackends(app, async () => {
      backendsOpen = false;
    });
    expect(seenByHooks).toEqual([true, true]);
    expect(backendsOpen).toBe(false);
  });
});
