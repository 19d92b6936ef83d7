import { defineConfig } from 'vitest/config';

/** `npm run test:scale`: one deployment (two instances, a worker, nginx), scenarios in order. */
export default defineConfig({
  test: {
    include: ['test/scale/**/*.scale.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
