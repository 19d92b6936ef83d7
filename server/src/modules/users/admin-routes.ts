/** Administration of accounts: /api/v1/admin/users/… (admins only). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { AuthDeps } from '../auth/deps.js';
import { securityEvent } from '../auth/deps.js';
import { accountKey } from '../auth/throttle.js';

export function adminUserRoutes(deps: AuthDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/admin/users/:id/unlock',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Lift the sign-in lock and failure count of an account',
          params: z.object({ id: z.uuid() }),
          response: { 200: z.object({ ok: z.literal(true) }) },
        },
      },
      async (request) => {
        const admin = await request.callerUser();
        if (admin.role !== 'admin') throw new AppError('forbidden', 'Only administrators can unlock accounts.');
        const user = await deps.users.byId(request.params.id);
        if (!user) throw new AppError('not_found', 'No such user.');
        await deps.throttle.unlock(accountKey(user.email));
        await securityEvent(deps, { type: 'auth.account_unlocked', userId: user.id, ip: request.ip, details: { by: admin.id } });
        return { ok: true as const };
      },
    );
  };
}
