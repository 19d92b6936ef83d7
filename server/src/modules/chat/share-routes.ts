/**
 * Sharing a conversation read-only (share.ts): its owner creates, sees and revokes the
 * link under /conversations/:id/share; members of the workspace read it at
 * /shared/:shareId. Anyone else, and any id that is not an active share, gets 404.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MESSAGE_ROLES, MESSAGE_STATUSES } from '../../domain/chat.js';
import type { ConversationSharing, Share } from './share.js';

/** The web app's page for a share; the API answers it at /api/v1/shared/:shareId. */
export const sharePath = (id: string): string => `/shared/${id}`;

const ShareView = z.object({
  shareId: z.string().describe('The random id of the link'),
  path: z.string().describe('The web app path of the read-only page, e.g. /shared/{shareId}'),
  createdAt: z.string(),
});
const ShareStatus = z.object({ shared: z.boolean().describe('Whether the conversation has an active link'), share: ShareView.nullable() });
const SharedConversationView = z.object({
  title: z.string().nullable(),
  sharedBy: z.string().describe('The author’s name'),
  sharedAt: z.string(),
  messages: z.array(
    z.object({
      role: z.enum(MESSAGE_ROLES),
      text: z.string(),
      status: z.enum(MESSAGE_STATUSES).describe('incomplete or failed: the answer was cut short'),
      createdAt: z.string(),
      citations: z.array(z.object({ marker: z.string().describe('The [n] marker in the text'), source: z.string().describe('Document name, heading and chunk'), text: z.string(), score: z.number() })),
    }),
  ),
});

const shareView = (share: Share): z.infer<typeof ShareView> => ({ shareId: share.id, path: sharePath(share.id), createdAt: share.createdAt.toISOString() });

export function shareRoutes(sharing: ConversationSharing): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['conversations'];
    const read = { access: { scope: 'conversations:read' as const } };
    const write = { access: { scope: 'conversations:write' as const } };
    const Id = z.object({ id: z.uuid() });

    app.post(
      '/conversations/:id/share',
      {
        config: write,
        schema: {
          tags,
          summary: 'Share a conversation read-only with the members of its workspace',
          description: 'Owner only. Creates the link, or answers the active one (200) when the conversation is shared already. Never public: reading it needs a current membership of the workspace.',
          params: Id,
          response: { 200: ShareView, 201: ShareView },
        },
      },
      async (request, reply) => {
        const { share, created } = await sharing.share(await request.workspace('chat.use'), request.params.id, request.actor());
        return reply.code(created ? 201 : 200).send(shareView(share));
      },
    );

    app.get('/conversations/:id/share', { config: read, schema: { tags, summary: 'Whether a conversation is shared, and its link', description: 'Owner only.', params: Id, response: { 200: ShareStatus } } }, async (request) => {
      const share = await sharing.status(await request.workspace('chat.use'), request.params.id);
      return { shared: share !== null, share: share ? shareView(share) : null };
    });

    app.delete(
      '/conversations/:id/share',
      {
        config: write,
        schema: {
          tags,
          summary: 'Stop sharing a conversation',
          description: 'Owner only. The link answers 404 at once; revoked tells whether there was an active link (false on a repeated revoke). Sharing again makes a new link.',
          params: Id,
          response: { 200: z.object({ ok: z.literal(true), revoked: z.boolean() }) },
        },
      },
      async (request) => ({ ok: true as const, revoked: await sharing.revoke(await request.workspace('chat.use'), request.params.id, request.actor()) }),
    );

    app.get(
      '/shared/:shareId',
      {
        config: read,
        schema: {
          tags,
          summary: 'Read a conversation shared with you',
          description:
            'For current members of the share’s workspace (no X-Workspace-Id needed). The title, the messages and the passages they cite, nothing else. An unknown, malformed or revoked id, a deleted conversation, or a reader outside the workspace: the same 404.',
          params: z.object({ shareId: z.string().describe('The share id from the link') }),
          response: { 200: SharedConversationView },
        },
      },
      async (request) => {
        const shared = await sharing.view(request.callerId(), request.params.shareId, request.actor());
        return { ...shared, sharedAt: shared.sharedAt.toISOString(), messages: shared.messages.map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })) };
      },
    );
  };
}
