/**
 * Joining a team through a workspace invitation: a person without an account registers
 * through the mailed link (even with REGISTRATION=invite) and joins; a person with one
 * sees it among their pending invitations and accepts or declines it. Only the addressee can.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom, useAccountsApp } from '../../../test/accounts.js';
import { ApiClient, apiUser } from '../../../test/api-client.js';
import { SCOPES } from '../../principal.js';
import { systemClock } from '../../platform/clock.js';
import { ApiKeyService } from '../api-keys/service.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { burst } from '../../../test/parallel.js';

const accounts = useAccountsApp({ REGISTRATION: 'invite', REQUIRE_MFA: 'none', RATE_LIMIT_SCALE: '20', PRIVACY_JOB_INTERVAL_SECONDS: '0' });
const { sink, clock } = accounts;

async function team(): Promise<{ owner: ApiClient; workspaceId: string }> {
  const owner = await apiUser(accounts.t);
  const workspaceId = (await owner.post('/workspaces', { name: 'Research Team' })).json().id as string;
  return { owner, workspaceId };
}

async function invite(owner: ApiClient, workspaceId: string, email: string, role = 'member'): Promise<{ id: string; token: string }> {
  const response = await owner.post(`/workspaces/${workspaceId}/invitations`, { email, role });
  expect(response.statusCode, response.body).toBe(201);
  const mail = await sink.next(email, /invited to the Bastion workspace/);
  expect(mail.text).toMatch(/\/invitations#token=bst_inv_/);
  return { id: response.json().id as string, token: tokenFrom(mail.text) };
}

async function memberIds(owner: ApiClient, workspaceId: string): Promise<string[]> {
  return ((await owner.get(`/workspaces/${workspaceId}/members`)).json().members as { userId: string }[]).map((m) => m.userId);
}

async function signedIn(email: string, password = PASSWORD): Promise<BrowserClient> {
  const browser = new BrowserClient(accounts.t.app);
  const response = await browser.post('/auth/login', { email, password });
  expect(response.statusCode, response.body).toBe(200);
  await browser.loadCsrf();
  return browser;
}

describe('workspace invitations', () => {
  it('let a person without an account register through the link, sign in and join (REGISTRATION=invite)', async () => {
    const { owner, workspaceId } = await team();
    const { token } = await invite(owner, workspaceId, 'newcomer@example.org');

    const anonymous = new BrowserClient(accounts.t.app);
    const preview = await anonymous.post('/workspaces/invitations/preview', { token });
    expect(preview.statusCode, preview.body).toBe(200);
    expect(preview.json()).toMatchObject({ workspaceName: 'Research Team', email: 'newcomer@example.org', role: 'member', hasAccount: false });

    // Another address cannot ride on the invitation.
    const other = await anonymous.post('/auth/register', { email: 'someone-else@example.org', name: 'Else', password: PASSWORD, inviteToken: token });
    expect(other.statusCode).toBe(403);
    expect(other.json().error.code).toBe('registration_closed');

    const registered = await anonymous.post('/auth/register', { email: 'Newcomer@example.org', name: 'Nia Newcomer', password: PASSWORD, inviteToken: token });
    expect(registered.statusCode, registered.body).toBe(202);
    expect(registered.json().status).toBe('registered'); // no verification mail: the invitation proved the address

    const browser = await signedIn('newcomer@example.org');
    expect((await browser.get('/me')).json().emailVerified).toBe(true);
    const joined = await browser.post('/workspaces/invitations/accept', { token });
    expect(joined.statusCode, joined.body).toBe(200);
    expect(joined.json()).toMatchObject({ id: workspaceId, role: 'member' });
    const me = (await browser.get('/me')).json().id as string;
    expect(await memberIds(owner, workspaceId)).toContain(me);
    const audit = await accounts.t.database.db.selectFrom('audit_entries').select('action').where('action', '=', 'workspace.invitation.accepted').execute();
    expect(audit).toHaveLength(1);

    // Used: the link neither previews nor registers again.
    expect((await anonymous.post('/workspaces/invitations/preview', { token })).json().error.code).toBe('invalid_token');
    expect((await anonymous.post('/auth/register', { email: 'newcomer2@example.org', name: 'N', password: PASSWORD, inviteToken: token })).statusCode).toBe(403);
  });

  it('refuses registration through a revoked or expired invitation', async () => {
    const { owner, workspaceId } = await team();
    const revoked = await invite(owner, workspaceId, 'revoked@example.org');
    expect((await owner.delete(`/workspaces/${workspaceId}/invitations/${revoked.id}`)).statusCode).toBe(200);
    const browser = new BrowserClient(accounts.t.app);
    expect((await browser.post('/auth/register', { email: 'revoked@example.org', name: 'R', password: PASSWORD, inviteToken: revoked.token })).json().error.code).toBe('registration_closed');

    const late = await invite(owner, workspaceId, 'late@example.org');
    clock.advance(8 * 24 * 60 * 60 * 1000);
    expect((await browser.post('/auth/register', { email: 'late@example.org', name: 'L', password: PASSWORD, inviteToken: late.token })).json().error.code).toBe('registration_closed');
    expect(await accounts.t.database.db.selectFrom('users').select('id').where('email', 'in', ['revoked@example.org', 'late@example.org']).execute()).toEqual([]);
  });

  it('show an existing member their pending invitations, to accept or decline, and only to them', async () => {
    const { owner, workspaceId } = await team();
    const second = await owner.post('/workspaces', { name: 'Second Team' });
    const existingId = await createUser(accounts.t.database, { email: 'existing@example.org', name: 'Eve Existing' });
    const first = await invite(owner, workspaceId, 'existing@example.org', 'viewer');
    const other = await invite(owner, second.json().id as string, 'existing@example.org');

    expect((await new BrowserClient(accounts.t.app).post('/workspaces/invitations/preview', { token: first.token })).json().hasAccount).toBe(true);
    const browser = await signedIn('existing@example.org');
    const mine = (await browser.get('/workspaces/invitations/mine')).json().invitations as { id: string; workspaceName: string; role: string; invitedBy: string }[];
    expect(mine.map((i) => [i.workspaceName, i.role]).sort()).toEqual([
      ['Research Team', 'viewer'],
      ['Second Team', 'member'],
    ]);
    expect(mine[0]!.invitedBy).toBe('Test Person');

    // A stranger sees none of it and can neither accept nor decline it.
    const stranger = await apiUser(accounts.t);
    expect((await stranger.get('/workspaces/invitations/mine')).json().invitations).toEqual([]);
    expect((await stranger.post(`/workspaces/invitations/${first.id}/accept`)).statusCode).toBe(404);
    expect((await stranger.post(`/workspaces/invitations/${first.id}/decline`)).statusCode).toBe(404);

    // Accepting by id, fired at once: one membership, one success.
    const responses = await burst(
      accounts.t.app,
      Array.from({ length: 5 }, () => ({ method: 'POST' as const, url: `/api/v1/workspaces/invitations/${first.id}/accept`, headers: { ...browserHeaders(browser) } })),
    );
    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 404, 404, 404, 404]);
    expect((await memberIds(owner, workspaceId)).filter((id) => id === existingId)).toHaveLength(1);

    expect((await browser.post(`/workspaces/invitations/${other.id}/decline`)).statusCode).toBe(200);
    expect((await browser.get('/workspaces/invitations/mine')).json().invitations).toEqual([]);
    expect((await owner.get(`/workspaces/${second.json().id}/invitations`)).json().invitations).toEqual([]);
    expect((await browser.post(`/workspaces/invitations/${other.id}/accept`)).statusCode).toBe(404);
  }, 60_000);

  it('match pending invitations by a verified address only', async () => {
    const { owner, workspaceId } = await team();
    const userId = await createUser(accounts.t.database, { email: 'unverified@example.org', verified: false });
    const { id } = await invite(owner, workspaceId, 'unverified@example.org');
    // Sign-in needs a verified address; an API key made before does not (REQUIRE_EMAIL_VERIFICATION covers sign-in).
    const { key } = await new ApiKeyService(accounts.t.database.db, systemClock, accounts.t.store).create(userId, { name: 'k', scopes: [...SCOPES] });
    const browser = new ApiClient(accounts.t, userId, 'unverified@example.org', key);
    expect((await browser.get('/workspaces/invitations/mine')).json().invitations).toEqual([]);
    const refused = await browser.post(`/workspaces/invitations/${id}/accept`);
    expect(refused.statusCode).toBe(404);
    expect(refused.json().error.message).toMatch(/Confirm your email/);
  });

  it('answer hostile tokens with a clear 4xx', async () => {
    const browser = new BrowserClient(accounts.t.app);
    for (const token of ['x'.repeat(5000), 'bst_inv_' + 'A'.repeat(43), "' or 1=1 --", { $ne: null }]) {
      const response = await browser.post('/workspaces/invitations/preview', { token });
      expect(response.statusCode, JSON.stringify(token).slice(0, 40)).toBe(400);
      expect(['validation_failed', 'invalid_token']).toContain(response.json().error.code);
    }
  });
});

/** The signed-in browser's cookie and CSRF headers, for requests sent in parallel over HTTP. */
function browserHeaders(browser: BrowserClient): Record<string, string> {
  return {
    cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    'x-csrf-token': browser.csrf ?? '',
    origin: 'http://127.0.0.1:3000',
    'sec-fetch-site': 'same-origin',
    'user-agent': browser.userAgent,
  };
}
