/** GET /api/v1/workspaces/:id/usage/members: tokens and answers per member this month (owners, admins). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { WORKSPACE_ROLES } from '../../domain/workspaces.js';
import type { MemberUsageService } from './member-usage.js';

export const MemberUsageView = z.object({
  period: z.string().describe('First day of the month counted (UTC), YYYY-MM-01'),
  members: z
    .array(
      z.object({
        userId: z.uuid(),
        name: z.string().nullable().describe('null: the account was erased'),
        email: z.string().nullable(),
        role: z.enum(WORKSPACE_ROLES).nullable().describe('null: a former member (left or removed this month)'),
        answers: z.number().int().describe('Answers in the member’s conversations, regenerated ones included'),
        inputTokens: z.number().int(),
        outputTokens: z.number().int(),
      }),
    )
    .describe('Members with answers this month, most tokens first'),
});

export function memberUsageRoutes(usage: MemberUsageService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/workspaces/:id/usage/members',
      {
        config: { access: { scope: 'workspaces:read' as const } },
        schema: {
          tags: ['workspaces'],
          summary: 'Tokens and answers per member this month (owners, admins)',
          description:
            'Counts the answers stored in conversations (chat, runs, webhooks) created this calendar month (UTC), by the conversation’s member. Completions of the OpenAI-compatible API (/v1) store nothing and count only in the workspace total (GET /workspaces/:id/usage), as do conversations already purged after their deletion.',
          params: z.object({ id: z.uuid() }),
          response: { 200: MemberUsageView },
        },
      },
      async (request) => usage.thisMonth(await request.workspace('usage.members', request.params.id)),
    );
  };
}
