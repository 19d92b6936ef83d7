/** Liveness and readiness probes, at the root (for orchestrators) and under /api/v1. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Database } from '../../platform/db/database.js';
import type { StorageGuard } from '../../platform/storage/free-space.js';
import type { Store } from '../../platform/store/store.js';
import { CryptoCheck } from './crypto-check.js';
import { checkReadiness } from './service.js';

const Liveness = z.object({ status: z.literal('ok').describe('The process is up and serving HTTP.') });

const Checks = z
  .object({
    database: z.enum(['ok', 'failed']).describe('PostgreSQL (or the embedded database) answered a query.'),
    store: z.enum(['ok', 'failed']).describe('Redis (or the in-memory store) answered a ping.'),
    crypto: z.enum(['ok', 'failed']).describe('Every master key that wraps data keys in the database is configured with the right key material (checked at most every 15 s); failed: encrypted records cannot be read.'),
    storage: z
      .enum(['ok', 'low', 'failed', 'unchecked'])
      .describe(
        'Free space under DATA_DIR for the embedded database: low below STORAGE_MIN_FREE_BYTES (changes answer 507 while reads and sign-in keep working, so it does not make the copy unready), failed when it cannot be measured, unchecked on PostgreSQL.',
      ),
  })
  .describe('Result of each dependency check.');

const Ready = z.object({ status: z.literal('ready'), checks: Checks });
const Unavailable = z.object({ code: z.literal('service_unavailable'), message: z.string(), requestId: z.string() });
const NotReady = z.object({ status: z.literal('unavailable'), checks: Checks, error: Unavailable }).describe('The checks ran and a dependency failed (named in `checks` and `error.message`).');
const Refused = z.object({ error: Unavailable }).describe('The copy refused the probe before any check ran: it is shedding load (overloaded) or shutting down. The plain error envelope, as every other route answers then.');
/** The documented 503 of /readyz: either shape carries `error.code` `service_unavailable`. */
export const ReadinessRefusal = z.union([NotReady, Refused]);

export function healthRoutes(deps: { database: Database; store: Store; encryptor: Encryptor; logger: Logger; storage: Pick<StorageGuard, 'state'>; timeoutMs: number }): FastifyPluginAsyncZod {
  // One check for the root and the /api/v1 registration: they share its cache.
  const crypto = new CryptoCheck({ encryptor: deps.encryptor, logger: deps.logger });
  const readiness = { database: deps.database, store: deps.store, crypto, storage: deps.storage, timeoutMs: deps.timeoutMs };
  return async (app) => {
    // Checked once at start too, so a missing key is logged even before the first probe.
    app.addHook('onReady', async () => {
      await crypto.state(deps.timeoutMs);
    });
    app.get(
      '/healthz',
      {
        config: { rateLimit: false, access: 'public', accessLog: 'debug' },
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
        config: { rateLimit: false, access: 'public', accessLog: 'debug' },
        schema: {
          tags: ['health'],
          summary: 'Readiness: the database and the store are reachable, the master keys configured',
          description: 'Answers 503 naming the failed dependency while one is down; recovers by itself. While the copy sheds load (OVERLOAD_*) or shuts down it answers 503 with the error envelope alone, before any check runs.',
          response: { 200: Ready, 503: ReadinessRefusal },
        },
      },
      async (request, reply) => {
        const checks = await checkReadiness(readiness);
        // Storage is reported, not failed on: with little space left the copy still serves
        // reads and sign-in (changes answer 507), so it stays in rotation.
        const failed = Object.entries(checks)
          .filter(([name, state]) => state === 'failed' && name !== 'storage')
          .map(([name]) => `${name} unavailable`);
        if (failed.length === 0) return { status: 'ready' as const, checks };
        reply.header('retry-after', '5');
        return reply.status(503).send({
          status: 'unavailable' as const,
          checks,
          error: {
            code: 'service_unavailable' as const,
            message: `Not ready: ${failed.join('; ')}.`,
            requestId: request.id,
          },
        });
      },
    );
  };
}
