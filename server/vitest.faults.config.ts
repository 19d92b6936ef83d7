import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: one process, scenarios in order (they share one deployment). */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 150_000,
    hookTimeout: 180_000,
  },
});
