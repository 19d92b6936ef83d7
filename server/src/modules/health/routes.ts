/** Liveness and readiness probes, at the root (for orchestrators) and under /api/v1. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../platform/db/database.js';
import type { Store } from '../../platform/store/store.js';
import { checkReadiness } from './service.js';

const Liveness = z.object({ status: z.literal('ok').describe('The process is up and serving HTTP.') });

const Checks = z
  .object({
    database: z.enum(['ok', 'failed']).describe('PostgreSQL (or the embedded database) answered a query.'),
    store: z.enum(['ok', 'failed']).describe('Redis (or the in-memory store) answered a ping.'),
  })
  .describe('Result of each dependency check.');

const Ready = z.object({ status: z.literal('ready'), checks: Checks });
const NotReady = z.object({
  status: z.literal('unavailable'),
  checks: Checks,
  error: z.object({ code: z.literal('service_unavailable'), message: z.string(), requestId: z.string() }),
});

export function healthRoutes(deps: { database: Database; store: Store; timeoutMs: number }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { rateLimit: false, access: 'public' },
        schema: {
          tags: ['health'],
          summary: 'Liveness: the process is running',
          response: { 200: Liveness },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        config: { rateLimit: false, access: 'public' },
        schema: {
          tags: ['health'],
          summary: 'Readiness: the database and the store are reachable',
          description: 'Answers 503 naming the failed dependency while one is down; recovers by itself.',
          response: { 200: Ready, 503: NotReady },
        },
      },
      async (request, reply) => {
        const checks = await checkReadiness(deps);
        const failed = Object.entries(checks)
          .filter(([, state]) => state === 'failed')
          .map(([name]) => name);
        if (failed.length === 0) return { status: 'ready' as const, checks };
        reply.header('retry-after', '5');
        return reply.status(503).send({
          status: 'unavailable' as const,
          checks,
          error: {
            code: 'service_unavailable' as const,
            message: `Not ready: ${failed.join(' and ')} unavailable.`,
            requestId: request.id,
          },
        });
      },
    );
  };
}
