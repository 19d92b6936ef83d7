/** GET /admin/alerts and POST /admin/alerts/:id/acknowledge (instance admins). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { AuthDeps } from '../auth/deps.js';
import { cursorSchema, decodeCursor, nextCursor } from '../security-events/cursor.js';
import type { SecurityEventSink } from '../security-events/service.js';
import type { AlertRow } from './alerts-repo.js';
import type { AlertService } from './alerts.js';
import { originOf } from '../security-events/origin.js';

const alertSchema = z.object({
  id: z.string(),
  rule: z.string(),
  key: z.string().describe('What the rule counted by: ip:…, net:…, account:…, api_key:…, user:…'),
  severity: z.string(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  count: z.number().describe('Firings merged into this alert'),
  details: z.record(z.string(), z.unknown()),
  acknowledgedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable(),
});

function toAlert(row: AlertRow): z.infer<typeof alertSchema> {
  return {
    id: row.id,
    rule: row.rule,
    key: row.key,
    severity: row.severity,
    firstSeenAt: row.first_seen_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    count: row.count,
    details: (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, unknown>,
    acknowledgedAt: row.acknowledged_at?.toISOString() ?? null,
    acknowledgedBy: row.acknowledged_by,
  };
}

export function alertRoutes(deps: AuthDeps, alerts: AlertService, events: SecurityEventSink): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/admin/alerts',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Security alerts raised by the monitor, most recently seen first',
          querystring: z
            .object({
              status: z.enum(['open', 'acknowledged', 'all']).default('open'),
              rule: z
                .string()
                .regex(/^[a-z_]{1,40}$/)
                .optional(),
              limit: z.coerce.number().int().min(1).max(100).default(50),
              cursor: cursorSchema.optional(),
            })
            .strict(),
          response: { 200: z.object({ alerts: z.array(alertSchema), nextCursor: z.string().nullable() }) },
        },
      },
      async (request) => {
        await request.requireAdmin('read alerts');
        const { status, rule, limit, cursor } = request.query;
        const rows = await alerts.list({ status, rule, before: decodeCursor(cursor), limit });
        return { alerts: rows.map(toAlert), nextCursor: nextCursor(rows, limit, (r) => r.last_seen_at) };
      },
    );

    app.post(
      '/admin/alerts/:id/acknowledge',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Acknowledge an open alert (the next firing of its rule and key raises a new one)',
          params: z.object({ id: z.uuid() }),
          response: { 200: z.object({ ok: z.literal(true) }) },
        },
      },
      async (request) => {
        const admin = await request.requireAdmin('acknowledge alerts');
        if (!(await alerts.acknowledge(request.params.id, admin.id))) throw new AppError('not_found', 'No such open alert.');
        await events.record({ ...originOf(request), type: 'admin.action', userId: admin.id, details: { action: 'alert.acknowledge', target: request.params.id } });
        return { ok: true as const };
      },
    );
  };
}
