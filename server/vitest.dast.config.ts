import { defineConfig } from 'vitest/config';

/** `npm run test:dast`: the scanners against one staging stack, in order. */
export default defineConfig({
  test: {
    include: ['test/security/dast/**/*.dast.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 180_000,
  },
});
