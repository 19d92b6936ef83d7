/** Workspaces: personal workspace, roles from the permission table, invitations by real mail. */
import { describe, expect, it } from 'vitest';
import { tokenFrom } from '../../../test/accounts.js';
import { apiUser } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { can, PERMISSIONS, permissionsOf, ROLES } from './permissions.js';

const chat = useChatApp();

async function sharedWorkspace() {
  const owner = await apiUser(chat.t);
  const workspace = (await owner.post('/workspaces', { name: 'Research' })).json();
  owner.workspaceId = workspace.id;
  return { owner, workspace };
}

/** Invites by mail through the SMTP sink and accepts with the mailed token. */
async function join(workspaceId: string, inviter: Awaited<ReturnType<typeof apiUser>>, role: 'admin' | 'member' | 'viewer') {
  const invitee = await apiUser(chat.t);
  const invited = await inviter.post(`/workspaces/${workspaceId}/invitations`, { email: invitee.email, role });
  expect(invited.statusCode, invited.body).toBe(201);
  const mail = await chat.sink.next(invitee.email, /invited to the Bastion workspace/);
  const accepted = await invitee.post('/workspaces/invitations/accept', { token: tokenFrom(mail.text) });
  expect(accepted.statusCode, accepted.body).toBe(200);
  expect(accepted.json()).toMatchObject({ id: workspaceId, role });
  invitee.workspaceId = workspaceId;
  return { invitee, token: tokenFrom(mail.text) };
}

describe('workspaces', () => {
  it('gives every user a personal workspace that cannot be shared', async () => {
    const user = await apiUser(chat.t);
    const listed = (await user.get('/workspaces')).json().workspaces;
    expect(listed).toEqual([expect.objectContaining({ name: 'Personal', personal: true, role: 'owner' })]);
    const invite = await user.post(`/workspaces/${listed[0].id}/invitations`, { email: 'friend@example.org' });
    expect(invite.statusCode).toBe(409);
    // Concurrent first requests create one personal workspace, not two.
    const fresh = await apiUser(chat.t);
    await Promise.all([fresh.get('/agents'), fresh.get('/workspaces'), fresh.get('/conversations')]);
    expect((await fresh.get('/workspaces')).json().workspaces).toHaveLength(1);
  });

  it('invites by single-use, expiring mail links addressed to one person', async () => {
    const { owner, workspace } = await sharedWorkspace();
    const { token } = await join(workspace.id, owner, 'member');
    const again = await (await apiUser(chat.t)).post('/workspaces/invitations/accept', { token });
    expect(again.statusCode).toBe(400);
    expect(again.json().error.code).toBe('invalid_token');

    // A forwarded link does not work for someone else.
    const intended = await apiUser(chat.t);
    await owner.post(`/workspaces/${workspace.id}/invitations`, { email: intended.email });
    const forwarded = tokenFrom((await chat.sink.next(intended.email, /invited/)).text);
    const thief = await apiUser(chat.t);
    expect((await thief.post('/workspaces/invitations/accept', { token: forwarded })).statusCode).toBe(400);

    // Expired after 7 days.
    chat.clock.advance(7 * 24 * 3_600_000 + 1);
    expect((await intended.post('/workspaces/invitations/accept', { token: forwarded })).statusCode).toBe(400);

    // Revoked invitations stop working.
    const late = await apiUser(chat.t);
    const invitation = (await owner.post(`/workspaces/${workspace.id}/invitations`, { email: late.email })).json();
    const revokedToken = tokenFrom((await chat.sink.next(late.email, /invited/)).text);
    expect((await owner.get(`/workspaces/${workspace.id}/invitations`)).json().invitations.map((i: { id: string }) => i.id)).toContain(invitation.id);
    expect((await owner.delete(`/workspaces/${workspace.id}/invitations/${invitation.id}`)).statusCode).toBe(200);
    expect((await late.post('/workspaces/invitations/accept', { token: revokedToken })).statusCode).toBe(400);
    const rows = await chat.t.database.db.selectFrom('workspace_invitations').select('token_hash').execute();
    expect(rows.map((r) => r.token_hash).join()).not.toContain(revokedToken);
  });

  it('enforces the permission table for each role', async () => {
    const { owner, workspace } = await sharedWorkspace();
    const { invitee: viewer } = await join(workspace.id, owner, 'viewer');
    const { invitee: member } = await join(workspace.id, owner, 'member');
    const { invitee: admin } = await join(workspace.id, owner, 'admin');

    const agent = { name: 'A' };
    expect((await viewer.post('/agents', agent)).statusCode).toBe(403);
    expect((await viewer.post('/agents', agent)).json().error.code).toBe('forbidden');
    expect((await member.post('/agents', agent)).statusCode).toBe(201);
    // The workspace view tells each caller what their role allows (the web offers only that).
    for (const [client, role] of [
      [owner, 'owner'],
      [admin, 'admin'],
      [member, 'member'],
      [viewer, 'viewer'],
    ] as const) {
      expect((await client.get(`/workspaces/${workspace.id}`)).json().permissions).toEqual(permissionsOf(role));
    }
    expect(permissionsOf('viewer')).not.toContain('agents.write');
    expect(permissionsOf('owner')).toEqual(Object.keys(PERMISSIONS));
    const connection = { name: 'c', kind: 'openai', apiKey: 'sk-x-123456789012', skipTest: true }; // no provider to try
    expect((await member.post('/provider-connections', connection)).statusCode).toBe(403);
    expect((await admin.post('/provider-connections', connection)).statusCode).toBe(201);
    expect((await member.patch(`/workspaces/${workspace.id}`, { monthlyTokenBudget: 5 })).statusCode).toBe(403);
    expect((await admin.patch(`/workspaces/${workspace.id}`, { monthlyTokenBudget: 5 })).statusCode).toBe(200);

    // Admins manage members and viewers, not admins or owners; only owners promote.
    expect((await admin.patch(`/workspaces/${workspace.id}/members/${viewer.userId}`, { role: 'member' })).statusCode).toBe(200);
    expect((await admin.patch(`/workspaces/${workspace.id}/members/${member.userId}`, { role: 'admin' })).statusCode).toBe(403);
    expect((await admin.patch(`/workspaces/${workspace.id}/members/${owner.userId}`, { role: 'viewer' })).statusCode).toBe(403);
    expect((await member.delete(`/workspaces/${workspace.id}/members/${viewer.userId}`)).statusCode).toBe(403);
    expect((await owner.patch(`/workspaces/${workspace.id}/members/${member.userId}`, { role: 'admin' })).statusCode).toBe(200);

    // The last owner cannot leave or step down; anyone else can leave.
    expect((await owner.patch(`/workspaces/${workspace.id}/members/${owner.userId}`, { role: 'admin' })).statusCode).toBe(409);
    expect((await owner.delete(`/workspaces/${workspace.id}/members/${owner.userId}`)).statusCode).toBe(409);
    expect((await viewer.delete(`/workspaces/${workspace.id}/members/${viewer.userId}`)).statusCode).toBe(200);
    expect((await viewer.get('/agents')).statusCode).toBe(404);
    const members = (await owner.get(`/workspaces/${workspace.id}/members`)).json().members;
    expect(members.map((m: { role: string }) => m.role).sort()).toEqual(['admin', 'admin', 'owner']);
  });

  it('shows the SSO settings to owners and admins, and members’ emails to everyone but viewers', async () => {
    const { owner, workspace } = await sharedWorkspace();
    const { invitee: admin } = await join(workspace.id, owner, 'admin');
    const { invitee: member } = await join(workspace.id, owner, 'member');
    const { invitee: viewer } = await join(workspace.id, owner, 'viewer');
    const sso = await owner.request('PUT', `/workspaces/${workspace.id}/sso`, { issuer: 'https://login.example.com', clientId: 'bastion', clientSecret: 'a-client-secret-of-some-length' });
    expect(sso.statusCode, sso.body).toBe(200);
    const everyone = [owner, admin, member, viewer].map((c) => c.email).sort();

    for (const [client, seesSso, seesEmails] of [
      [owner, true, true],
      [admin, true, true],
      [member, false, true],
      [viewer, false, false],
    ] as const) {
      const settings = await client.get(`/workspaces/${workspace.id}/sso`);
      expect(settings.statusCode, `${client.email} sso`).toBe(seesSso ? 200 : 403);
      if (seesSso) expect(settings.json().sso).toMatchObject({ issuer: 'https://login.example.com', clientId: 'bastion' });
      else expect(settings.json().error.code).toBe('forbidden');

      const members = await client.get(`/workspaces/${workspace.id}/members`);
      expect(members.statusCode).toBe(200);
      const rows = members.json().members as { email: string | null; name: string; role: string }[];
      expect(rows).toHaveLength(4); // everyone sees who is there, with names and roles
      expect(rows.map((m) => m.email).sort(), `${client.email} emails`).toEqual(seesEmails ? everyone : [null, null, null, null]);
    }
    expect(can('viewer', 'members.emails')).toBe(false);
    expect(can('member', 'sso.read')).toBe(false);
  });

  it('remembers the workspace last chosen, only one the caller belongs to, and forgets it when they leave', async () => {
    const { owner, workspace } = await sharedWorkspace();
    const { invitee } = await join(workspace.id, owner, 'member');
    invitee.workspaceId = undefined;
    expect((await invitee.get('/workspaces')).json().lastWorkspaceId).toBeNull();
    expect((await invitee.put('/me/workspace', { workspaceId: workspace.id })).statusCode).toBe(200);
    expect((await invitee.get('/workspaces')).json().lastWorkspaceId).toBe(workspace.id);

    // A workspace the caller is not in: 404, and nothing remembered.
    const stranger = await apiUser(chat.t);
    const theirs = (await stranger.post('/workspaces', { name: 'Elsewhere' })).json();
    const refused = await invitee.put('/me/workspace', { workspaceId: theirs.id });
    expect(refused.statusCode).toBe(404);
    expect((await invitee.put('/me/workspace', { workspaceId: 'not-a-uuid' })).statusCode).toBe(400);
    expect((await invitee.get('/workspaces')).json().lastWorkspaceId).toBe(workspace.id);

    // Removed from it: the preference no longer names it.
    const removed = await owner.delete(`/workspaces/${workspace.id}/members/${invitee.userId}`);
    expect(removed.statusCode, removed.body).toBeLessThan(300);
    expect((await invitee.get('/workspaces')).json().lastWorkspaceId).toBeNull();
  });

  it('has one permission table that orders the roles', () => {
    for (const permission of Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[]) {
      const allowed = ROLES.map((role) => can(role, permission));
      // Each role may do at least what the role below it may.
      for (let i = 1; i < allowed.length; i++) expect(allowed[i - 1] || !allowed[i], permission).toBe(true);
      expect(can('owner', permission)).toBe(true);
    }
    expect(can('viewer', 'agents.write')).toBe(false);
  });

  it('refuses hostile input on workspace endpoints', async () => {
    const { owner, workspace } = await sharedWorkspace();
    for (const [url, body] of [
      ['/workspaces', { name: '' }],
      ['/workspaces', { name: 'x'.repeat(101) }],
      ['/workspaces', { name: 'ok', owner: 'me' }],
      [`/workspaces/${workspace.id}/invitations`, { email: 'not-an-email' }],
      [`/workspaces/${workspace.id}/invitations`, { email: 'a@example.org', role: 'owner' }],
      ['/workspaces/invitations/accept', { token: 'short' }],
    ] as const) {
      const response = await owner.post(url, body);
      expect(response.statusCode, `${url} ${JSON.stringify(body)}`).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    for (const body of [{ monthlyTokenBudget: -1 }, { monthlyTokenBudget: 1.5 }, { monthlyTokenBudget: '10' }, { personal: true }]) {
      expect((await owner.patch(`/workspaces/${workspace.id}`, body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await owner.get(`/workspaces/${workspace.id}`)).json()).toMatchObject({ name: 'Research', monthlyTokenBudget: null });
  });
});
