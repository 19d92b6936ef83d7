import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run test:image`: builds and runs the container image (slow; its own command, run by CI).
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['deploy/container/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 900_000,
  },
});
