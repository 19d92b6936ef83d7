import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // One database per worker process, reused across files (see test/harness.ts).
    isolate: false,
    maxWorkers: 2,
    testTimeout: 30_000,
    reporters: ['default', './test/timing-reporter.ts'],
    hookTimeout: 90_000,
  },
});
