/** GET /api/v1/admin/caches: hit and miss counts of this process's caches (instance admins). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { CacheStats } from '../../platform/store/cache.js';
import { requestActor } from '../audit/request.js';
import type { AuditLog } from '../audit/service.js';
import type { AuthDeps } from '../auth/deps.js';
import { currentUser } from '../auth/routes.js';

export function cacheStatsRoute(deps: AuthDeps, stats: CacheStats, audit: AuditLog): FastifyPluginAsyncZod {
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
        const user = await currentUser(deps, request);
        if (user.role !== 'admin') throw new AppError('forbidden', 'Only administrators can read cache statistics.');
        await audit.record({ ...requestActor(request), action: 'admin.cache.read' });
        return { caches: stats.snapshot() };
      },
    );
  };
}
