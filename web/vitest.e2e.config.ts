// End-to-end suite (web/e2e): a real `bastion serve` process and Debian's Chromium.
// One file at a time: each starts its own server and browser on a 2-core machine.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    globalSetup: ['e2e/build.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The steps of a flow share one browser and build on each other: no retries, in order.
    sequence: { concurrent: false },
  },
});
