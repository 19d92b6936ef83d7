/** The `Monitoring` group. Prometheus metrics. */
import { z } from 'zod';
import type { Variable } from '../variable.js';

export const monitoringVariables = {
  METRICS_TOKEN: {
    group: 'Monitoring',
    schema: z
      .string()
      .refine((v) => /^[\x21-\x7e]{32,512}$/.test(v), '32 to 512 printable characters without spaces (e.g. `openssl rand -hex 32`)')
      .optional(),
    doc: 'Serves Prometheus metrics at GET /metrics on the main port to `Authorization: Bearer <token>` only. Unset (and no METRICS_PORT): /metrics answers 404.',
    example: '',
    secret: true,
  },
  METRICS_PORT: {
    group: 'Monitoring',
    schema: z.coerce.number().int().min(1).max(65535).optional(),
    doc: 'Serves GET /metrics (and nothing else) on a second listener at METRICS_HOST:METRICS_PORT, for a scraper inside the private network. Asks for METRICS_TOKEN too when it is set.',
    example: '',
  },
  METRICS_HOST: {
    group: 'Monitoring',
    schema: z.string().min(1).default('127.0.0.1'),
    doc: 'Interface of the METRICS_PORT listener; keep it private (loopback, or the pod/host address your Prometheus reaches).',
  },
} satisfies Record<string, Variable>;
