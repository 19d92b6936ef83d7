/** GET /api/v1/admin/caches: hit and miss counts of this process's caches (instance admins). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { AuthDeps } from '../auth/deps.js';
import type { CacheStatsService } from './cache-service.js';

export function cacheStatsRoute(deps: AuthDeps, caches: CacheStatsService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/admin/caches',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Cache hits and misses since this process started (agent configurations, LLM responses)',
          response: { 200: z.object({ caches: z.record(z.string(), z.object({ hits: z.number(), misses: z.number() })) }) },
        },
      },
      async (request) => {
        const user = await request.callerUser();
        if (user.role !== 'admin') throw new AppError('forbidden', 'Only administrators can read cache statistics.');
        return { caches: await caches.read(request.actor()) };
      },
    );
  };
}
