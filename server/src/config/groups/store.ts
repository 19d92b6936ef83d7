/** The `Store` group. Redis (or the in-memory store when REDIS_URL is unset). */
import { z } from 'zod';
import { int, url, type Variable } from '../variable.js';

export const storeVariables = {
  REDIS_URL: {
    group: 'Store',
    schema: url(['redis', 'rediss']).optional(),
    doc: 'Redis URL for sessions, rate limits and caches. Unset: in-memory store (single process only).',
    example: '',
    secret: true,
  },
  REDIS_KEY_PREFIX: {
    group: 'Store',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{0,64}$/, 'letters, digits, ":", "_" or "-" only')
      .default('bastion:'),
    doc: 'Prefix for every Redis key, so several deployments can share one Redis.',
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    group: 'Store',
    schema: int(50, 60_000, 2_000),
    doc: 'A Redis command that takes longer fails (the request gets 503).',
  },
  STORE_MEMORY_MAX_KEYS: {
    group: 'Store',
    schema: int(100, 100_000_000, 100_000),
    doc: 'Bound of the in-memory store; least recently used keys are evicted beyond it.',
  },
} satisfies Record<string, Variable>;
