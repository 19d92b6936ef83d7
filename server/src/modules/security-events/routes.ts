/**
 * GET /me/security-events (the caller's own trail) and, for instance admins,
 * GET /admin/security/events (filtered) and GET /admin/security/failed-auth (counts).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuthDeps } from '../auth/deps.js';
import { cursorSchema, decodeCursor, nextCursor } from './cursor.js';
import { countFailedSignIns, listSecurityEvents, type SecurityEventRow } from './repo.js';
import { EVENT_CATALOG, SECURITY_EVENT_TYPES, type SecurityEventType } from './types.js';

const limit = z.coerce.number().int().min(1).max(100).default(50).describe('Page size, 1–100');

const eventSchema = z.object({
  id: z.string(),
  type: z.string(),
  label: z.string().describe('The type in words, for people'),
  severity: z.string(),
  userId: z.string().nullable(),
  apiKeyId: z.string().nullable().describe('The API key that acted, if any'),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).describe('Allow-listed, non-secret facts for the type'),
  createdAt: z.string(),
});
const pageSchema = z.object({ events: z.array(eventSchema), nextCursor: z.string().nullable() });

function toEvent(row: SecurityEventRow): z.infer<typeof eventSchema> {
  return {
    id: row.id,
    type: row.type,
    label: EVENT_CATALOG[row.type as SecurityEventType]?.label ?? row.type,
    severity: row.severity,
    userId: row.user_id,
    apiKeyId: row.actor_key_id,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    details: (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, unknown>,
    createdAt: row.created_at.toISOString(),
  };
}

export function securityEventRoutes(deps: AuthDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/me/security-events',
      {
        config: { access: { scope: 'profile:read' } },
        schema: {
          tags: ['account'],
          summary: 'Your security events (sign-ins, factor changes, refusals), newest first',
          querystring: z.object({ limit, cursor: cursorSchema.optional() }).strict(),
          response: { 200: pageSchema },
        },
      },
      async (request) => {
        const user = await request.callerUser();
        const { limit: size, cursor } = request.query;
        const rows = await listSecurityEvents(deps.db, { userId: user.id, before: decodeCursor(cursor), limit: size });
        return { events: rows.map(toEvent), nextCursor: nextCursor(rows, size, (r) => r.created_at) };
      },
    );

    app.get(
      '/admin/security/events',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Security events of every account, newest first, filtered',
          querystring: z
            .object({
              type: z.enum(SECURITY_EVENT_TYPES).optional().describe('One event type'),
              userId: z.uuid().optional(),
              ip: z.union([z.ipv4(), z.ipv6()]).optional(),
              since: z.iso.datetime({ offset: true }).optional().describe('ISO 8601 time; events at or after it'),
              limit,
              cursor: cursorSchema.optional(),
            })
            .strict(),
          response: { 200: pageSchema },
        },
      },
      async (request) => {
        await request.requireAdmin('read security events');
        const { type, userId, ip, since, limit: size, cursor } = request.query;
        const rows = await listSecurityEvents(deps.db, { type, userId, ip, since: since ? new Date(since) : undefined, before: decodeCursor(cursor), limit: size });
        return { events: rows.map(toEvent), nextCursor: nextCursor(rows, size, (r) => r.created_at) };
      },
    );

    app.get(
      '/admin/security/failed-auth',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Failed sign-ins over a window: in total, per account and per IP',
          querystring: z
            .object({
              windowMinutes: z.coerce.number().int().min(1).max(43_200).default(60).describe('How far back to count (≤ 30 days)'),
              limit: z.coerce.number().int().min(1).max(100).default(20).describe('Rows per breakdown'),
            })
            .strict(),
          response: {
            200: z.object({
              since: z.string(),
              total: z.number(),
              byAccount: z.array(z.object({ account: z.string().nullable().describe('The sign-in throttle key of the email (a hash)'), userId: z.string().nullable(), failures: z.number() })),
              byIp: z.array(z.object({ ip: z.string().nullable(), failures: z.number() })),
            }),
          },
        },
      },
      async (request) => {
        await request.requireAdmin('read failed sign-ins');
        const since = new Date(deps.clock.now().getTime() - request.query.windowMinutes * 60_000);
        const counts = await countFailedSignIns(deps.db, since, request.query.limit);
        return {
          since: since.toISOString(),
          total: counts.total,
          byAccount: counts.byAccount.map((r) => ({ account: r.account, userId: r.user_id, failures: Number(r.n) })),
          byIp: counts.byIp.map((r) => ({ ip: r.ip, failures: Number(r.n) })),
        };
      },
    );
  };
}
