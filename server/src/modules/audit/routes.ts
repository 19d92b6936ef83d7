/**
 * GET /api/v1/admin/audit: the audit log in sequence order, one JSON page at a time
 * (instance admins, `admin:write`). Page on with `after` = the previous page's `next`.
 * Reading the log is itself recorded (`admin.audit.read`).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { AuthDeps } from '../auth/deps.js';
import type { AuditLog } from './service.js';
import { entryView } from './view.js';

const Seq = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,14})$/, 'a sequence number: digits only')
  .transform(Number);

const EntryView = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.object({ type: z.string().describe('user, api_key or system'), id: z.string().nullable().describe('User id, or pseudonym:… once pseudonymised'), keyId: z.string().nullable(), ip: z.string().nullable() }),
  action: z.string().describe('e.g. workspace.member.removed'),
  target: z.object({ type: z.string(), id: z.string().nullable() }).nullable(),
  workspaceId: z.string().nullable(),
  subjectId: z.string().nullable().describe('The person the action was about, if any'),
  requestId: z.string().nullable(),
  details: z.unknown(),
  pseudonymised: z.boolean(),
  personalDigest: z.string(),
  personalSalt: z.string().nullable(),
  prevHash: z.string(),
  hash: z.string(),
});

export function auditRoutes(deps: AuthDeps, audit: AuditLog): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/admin/audit',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Audit log entries after a sequence number, oldest first (instance admins)',
          querystring: z.strictObject({
            after: Seq.default(0).describe('Return entries with a greater sequence number (default 0: from the start)'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: { 200: z.object({ entries: z.array(EntryView), next: z.number().int().nullable().describe('Pass as `after` for the next page; null at the end') }) },
        },
      },
      async (request) => {
        const user = await request.callerUser();
        if (user.role !== 'admin') throw new AppError('forbidden', 'Only administrators can read the audit log.');
        const { after, limit } = request.query;
        const rows = await audit.read(request.actor(), after, limit);
        const entries = rows.map(entryView);
        return { entries, next: entries.length === limit ? entries.at(-1)!.seq : null };
      },
    );
  };
}
