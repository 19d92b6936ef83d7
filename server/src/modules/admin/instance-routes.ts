/** GET /api/v1/admin/outbox and /admin/settings: what instance administrators read about the instance. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { InstanceAdminService } from './instance-service.js';

const tags = ['admin'];
const access = { access: { scope: 'admin:write' as const } };

const OutboxMail = z.object({
  id: z.uuid(),
  to: z.string(),
  subject: z.string(),
  text: z.string().describe('Plain-text body (links in it are live: treat it like the mail itself)'),
  createdAt: z.string(),
});

const Setting = z.object({
  name: z.string().describe('Environment variable'),
  group: z.string(),
  doc: z.string(),
  value: z.string().nullable().describe('The value in force as text; null when unset or secret'),
  secret: z.boolean().describe('A secret: its value is never shown, only whether it is set'),
  set: z.boolean(),
  redacted: z.boolean().describe('Part of the value (credentials in a URL) is hidden'),
});

export function instanceAdminRoutes(service: InstanceAdminService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/admin/outbox',
      {
        config: access,
        schema: {
          tags,
          summary: 'The newest mails in the outbox (embedded default: no SMTP_URL)',
          description: 'Answers 409 `conflict` when mail is sent through SMTP_URL (no outbox is kept). Each read is recorded in the audit log.',
          querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
          response: { 200: z.object({ mails: z.array(OutboxMail) }) },
        },
      },
      async (request) => {
        await request.requireAdmin('read the outbox');
        return { mails: await service.outbox(request.actor(), request.query.limit) };
      },
    );

    app.get(
      '/admin/settings',
      {
        config: access,
        schema: {
          tags,
          summary: 'The settings in force, read-only, secrets redacted',
          response: { 200: z.object({ settings: z.array(Setting), outbox: z.boolean().describe('Mail goes to the outbox (no SMTP_URL): GET /admin/outbox lists it') }) },
        },
      },
      async (request) => {
        await request.requireAdmin('read the settings');
        return { settings: await service.settings(request.actor()), outbox: service.hasOutbox };
      },
    );
  };
}
