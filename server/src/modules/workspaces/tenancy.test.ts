/**
 * Tenancy: every workspace resource is invisible to a user of another workspace —
 * 404 for read, update and delete, and absent from lists — and X-Workspace-Id cannot
 * reach a workspace the caller is not a member of.
 */
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { setUpChat, useChatApp } from '../../../test/chat-fixture.js';

const chat = useChatApp();

interface Resource {
  name: string;
  read: (c: ApiClient) => Promise<{ statusCode: number }>;
  update?: (c: ApiClient) => Promise<{ statusCode: number }>;
  remove?: (c: ApiClient) => Promise<{ statusCode: number }>;
  listed: (c: ApiClient) => Promise<unknown[]>;
}

/** Items with the id in a list; a 404 (the named workspace does not exist for the caller) lists nothing. */
async function visible(client: ApiClient, url: string, key: string, id: string | null): Promise<unknown[]> {
  const response = await client.get(url);
  if (response.statusCode === 404) return [];
  expect(response.statusCode).toBe(200);
  return (response.json()[key] as { id: string }[]).filter((item) => item.id === id);
}

describe('tenancy', () => {
  it('hides every resource of a workspace from a user of another one', async () => {
    const owner = await apiUser(chat.t);
    const shared = (await owner.post('/workspaces', { name: 'Acme' })).json();
    owner.workspaceId = shared.id;
    const { connectionId, agentId, conversationId } = await setUpChat(chat, { client: owner });
    const invitation = (await owner.post(`/workspaces/${shared.id}/invitations`, { email: 'someone@example.org', role: 'member' })).json();

    const stranger = await apiUser(chat.t);
    await setUpChat(chat, { client: stranger }); // the stranger has resources of their own
    const resources: Resource[] = [
      {
        name: 'workspace',
        read: (c) => c.get(`/workspaces/${shared.id}`),
        update: (c) => c.patch(`/workspaces/${shared.id}`, { name: 'Mine now' }),
        listed: (c) => visible(c, '/workspaces', 'workspaces', shared.id),
      },
      {
        name: 'members',
        read: (c) => c.get(`/workspaces/${shared.id}/members`),
        update: (c) => c.patch(`/workspaces/${shared.id}/members/${owner.userId}`, { role: 'viewer' }),
        remove: (c) => c.delete(`/workspaces/${shared.id}/members/${owner.userId}`),
        listed: async () => [],
      },
      {
        name: 'invitations',
        read: (c) => c.get(`/workspaces/${shared.id}/invitations`),
        remove: (c) => c.delete(`/workspaces/${shared.id}/invitations/${invitation.id}`),
        listed: async () => [],
      },
      {
        name: 'usage',
        read: (c) => c.get(`/workspaces/${shared.id}/usage`),
        listed: async () => [],
      },
      {
        name: 'provider connection',
        read: (c) => c.get(`/provider-connections/${connectionId}`),
        update: (c) => c.patch(`/provider-connections/${connectionId}`, { name: 'stolen' }),
        remove: (c) => c.delete(`/provider-connections/${connectionId}`),
        listed: (c) => visible(c, '/provider-connections', 'connections', connectionId),
      },
      {
        name: 'provider connection test',
        read: (c) => c.post(`/provider-connections/${connectionId}/test`),
        listed: async () => [],
      },
      {
        name: 'agent',
        read: (c) => c.get(`/agents/${agentId}`),
        update: (c) => c.patch(`/agents/${agentId}`, { name: 'stolen' }),
        remove: (c) => c.delete(`/agents/${agentId}`),
        listed: (c) => visible(c, '/agents', 'agents', agentId),
      },
      {
        name: 'agent versions and runs',
        read: (c) => c.get(`/agents/${agentId}/versions`),
        update: (c) => c.post(`/agents/${agentId}/runs`, { input: 'hello' }),
        listed: async () => [],
      },
      {
        name: 'conversation',
        read: (c) => c.get(`/conversations/${conversationId}`),
        update: (c) => c.post(`/conversations/${conversationId}/messages`, { content: 'hello' }),
        remove: (c) => c.delete(`/conversations/${conversationId}`),
        listed: (c) => visible(c, '/conversations', 'conversations', conversationId),
      },
      {
        name: 'conversation export, rename and restore',
        read: (c) => c.get(`/conversations/${conversationId}/export?format=json`),
        update: (c) => c.patch(`/conversations/${conversationId}`, { title: 'stolen', archived: true }),
        remove: (c) => c.post(`/conversations/${conversationId}/restore`),
        listed: (c) => visible(c, '/conversations?archived=true', 'conversations', conversationId),
      },
      {
        name: 'conversation messages',
        read: (c) => c.get(`/conversations/${conversationId}/messages`),
        update: (c) => c.post(`/conversations/${conversationId}/regenerate`),
        remove: (c) => c.post(`/conversations/${conversationId}/cancel`),
        listed: async () => [],
      },
      {
        name: 'conversation of an agent, started by a stranger',
        read: (c) => c.post('/conversations', { agentId }),
        listed: async () => [],
      },
    ];

    // In their own workspace and naming the victim's workspace in the header: both 404.
    for (const header of [undefined, shared.id]) {
      stranger.workspaceId = header;
      for (const resource of resources) {
        for (const [action, call] of [
          ['read', resource.read],
          ['update', resource.update],
          ['delete', resource.remove],
        ] as const) {
          if (!call) continue;
          const response = await call(stranger);
          expect(response.statusCode, `${resource.name} ${action} (header ${header ?? 'none'})`).toBe(404);
        }
        expect(await resource.listed(stranger), `${resource.name} list`).toEqual([]);
      }
    }
    // Nothing changed for the owner.
    expect((await owner.get(`/agents/${agentId}`)).json().config.name).toBe('Helper');
    expect((await owner.get(`/conversations/${conversationId}/messages`)).json().messages).toEqual([]);
    expect((await owner.get(`/workspaces/${shared.id}`)).json().name).toBe('Acme');
  });

  it('keeps conversations private to their author inside a shared workspace', async () => {
    const owner = await apiUser(chat.t);
    const shared = (await owner.post('/workspaces', { name: 'Team' })).json();
    owner.workspaceId = shared.id;
    const { conversationId } = await setUpChat(chat, { client: owner });
    const colleague = await apiUser(chat.t);
    await chat.t.database.db.insertInto('workspace_members').values({ workspace_id: shared.id, user_id: colleague.userId, role: 'admin', created_at: new Date() }).execute();
    colleague.workspaceId = shared.id;
    expect((await colleague.get('/agents')).json().agents).toHaveLength(1);
    expect((await colleague.get(`/conversations/${conversationId}`)).statusCode).toBe(404);
    expect((await colleague.get('/conversations')).json().conversations).toEqual([]);
  });

  it('refuses a malformed workspace header with a clear error', async () => {
    const user = await apiUser(chat.t);
    user.workspaceId = "1' or '1'='1";
    const response = await user.get('/agents');
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toContain('X-Workspace-Id');
  });
});
