/** Administration of accounts: /api/v1/admin/users/… (instance administrators only). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { USER_ROLES } from '../../domain/accounts.js';
import { PASSWORD_MAX_LENGTH } from '../auth/passwords.js';
import type { AdminUserService } from './admin-service.js';

const tags = ['admin'];
const write = { access: { scope: 'admin:write' as const } };
// There is no separate read scope for administration: reading accounts is as sensitive as changing them.
const read = write;
const UserId = z.object({ id: z.uuid().describe('The user’s id') });

const AdminUser = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role: z.enum(USER_ROLES),
  createdAt: z.string(),
  emailVerified: z.boolean(),
  mfaEnabled: z.boolean().describe('Two-factor authentication (TOTP) is on'),
  disabled: z.boolean().describe('Disabled by an administrator: sign-in and every credential are refused'),
  disabledAt: z.string().nullable(),
  locked: z.boolean().describe('Locked after repeated failed sign-ins (lift it with …/unlock)'),
  lockedUntil: z.string().nullable(),
});
const UserAnswer = z.object({ ok: z.literal(true), user: AdminUser });

export function adminUserRoutes(service: AdminUserService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/admin/users',
      {
        config: read,
        schema: {
          tags,
          summary: 'List and search accounts, newest first',
          querystring: z.strictObject({
            q: z.string().trim().max(200).optional().describe('Part of the email address or name (case-insensitive)'),
            limit: z.coerce.number().int().min(1).max(100).default(50),
            offset: z.coerce.number().int().min(0).max(100_000).default(0).describe('Accounts to skip (pass `nextOffset` of the previous page)'),
          }),
          response: { 200: z.object({ users: z.array(AdminUser), nextOffset: z.number().int().nullable().describe('Offset of the next page; null on the last one') }) },
        },
      },
      async (request) => {
        await request.requireAdmin('list accounts');
        return service.list(request.query);
      },
    );

    app.post(
      '/admin/users/:id/disable',
      {
        config: write,
        schema: {
          tags,
          summary: 'Disable an account: sign-in is refused and every session, API key and token ends now',
          description: 'Refused (409 `conflict`) for your own account and for the last enabled administrator.',
          params: UserId,
          response: { 200: UserAnswer },
        },
      },
      async (request) => {
        const admin = await request.requireAdmin('disable accounts');
        return { ok: true as const, user: await service.disable(admin, request.params.id, request.actor()) };
      },
    );

    app.post('/admin/users/:id/enable', { config: write, schema: { tags, summary: 'Enable a disabled account again (its owner signs in afresh)', params: UserId, response: { 200: UserAnswer } } }, async (request) => {
      const admin = await request.requireAdmin('enable accounts');
      return { ok: true as const, user: await service.enable(admin, request.params.id, request.actor()) };
    });

    app.post('/admin/users/:id/unlock', { config: write, schema: { tags, summary: 'Lift the sign-in lock and failure count of an account', params: UserId, response: { 200: UserAnswer } } }, async (request) => {
      const admin = await request.requireAdmin('unlock accounts');
      return { ok: true as const, user: await service.unlock(admin, request.params.id, request.actor()) };
    });

    app.post(
      '/admin/users/:id/reset-mfa',
      {
        config: write,
        schema: {
          tags,
          summary: 'Turn off a user’s two-factor authentication and recovery codes (a lost device); ends their sessions and mails them',
          description: 'Re-authenticates the administrator: their current password, and a code when they use two-factor authentication themselves (403 `reauthentication_required` asks for it).',
          params: UserId,
          body: z.strictObject({
            password: z
              .string()
              .min(1)
              .max(PASSWORD_MAX_LENGTH * 4)
              .describe('Your own current password'),
            code: z.string().trim().min(6).max(24).optional().describe('Your own TOTP or recovery code, when you use two-factor authentication'),
          }),
          response: { 200: UserAnswer },
        },
      },
      async (request) => {
        const admin = await request.requireAdmin('reset two-factor authentication');
        return { ok: true as const, user: await service.resetMfa(admin, request.params.id, request.body, request.actor()) };
      },
    );
  };
}
