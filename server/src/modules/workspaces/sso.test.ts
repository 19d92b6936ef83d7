/**
 * Single sign-on configured by a workspace, against a real OpenID Connect provider on
 * loopback: encrypted client secret, the code flow, membership on sign-in, and what a
 * workspace-chosen provider may not do (create accounts, take over accounts, reach
 * private addresses that are not allow-listed).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, tokenFrom } from '../../../test/accounts.js';
import { apiUser } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { buildTestApp, type TestApp } from '../../../test/harness.js';
import { TestOidcProvider } from '../../../test/oidc-provider.js';

const PUBLIC_URL = 'http://127.0.0.1:3000';
const REDIRECT = `${PUBLIC_URL}/api/v1/auth/oidc/callback`;
const SECRET = 'workspace-oidc-secret-0123456789';
const chat = useChatApp({ OUTBOUND_ALLOW_PRIVATE_SSO: '127.0.0.1:*' });
const provider = new TestOidcProvider();
let n = 0;

beforeAll(async () => {
  await provider.start(REDIRECT, SECRET);
});
afterAll(async () => {
  await provider.stop();
});

async function workspaceWithSso(app: TestApp = chat.t, jitProvisioning = true) {
  const owner = await apiUser(app);
  const workspace = (await owner.post('/workspaces', { name: 'Federated' })).json();
  const put = await owner.request('PUT', `/workspaces/${workspace.id}/sso`, { issuer: provider.issuer, clientId: 'bastion', clientSecret: SECRET, jitProvisioning, defaultRole: 'viewer' });
  expect(put.statusCode, put.body).toBe(200);
  return { owner, workspace, sso: put.json() };
}

async function signIn(app: TestApp, workspaceId: string, sub: string) {
  const started = await app.app.inject({ url: `/api/v1/auth/oidc/start?workspace=${workspaceId}` });
  if (started.statusCode !== 302) return { location: String(started.headers.location), session: undefined };
  const flowCookie = (started.cookies as { name: string; value: string }[]).find((c) => c.name === 'bastion_oidc')!.value;
  const back = new URL(await provider.authorize(String(started.headers.location), sub));
  const response = await app.app.inject({ url: `${back.pathname}${back.search}`, headers: { cookie: `bastion_oidc=${flowCookie}` } });
  return { location: String(response.headers.location), session: (response.cookies as { name: string; value: string }[]).find((c) => c.name === 'bastion_session')?.value };
}

describe('workspace single sign-on', () => {
  it('stores the client secret encrypted and signs linked people in, adding them to the workspace', async () => {
    const { workspace, sso } = await workspaceWithSso();
    expect(sso).toMatchObject({ issuer: provider.issuer, clientId: 'bastion', jitProvisioning: true, defaultRole: 'viewer', startUrl: `${PUBLIC_URL}/api/v1/auth/oidc/start?workspace=${workspace.id}` });
    expect(JSON.stringify(sso)).not.toContain(SECRET);
    const dump = await sql<{ row: string }>`select t::text as row from workspace_sso t`.execute(chat.t.database.db);
    expect(dump.rows.map((r) => r.row).join()).not.toContain(SECRET.slice(0, 20));

    const email = `fed${++n}@example.org`;
    const userId = await createUser(chat.t.database, { email });
    const sub = `fed-${n}`;
    provider.accounts.set(sub, { email, email_verified: true });
    // The first sign-in is confirmed by the account owner, as for the instance provider.
    const pending = await signIn(chat.t, workspace.id, sub);
    expect(pending.session).toBeUndefined();
    expect(pending.location).toBe(`${PUBLIC_URL}/sign-in#sso=link_pending`);
    const mail = await chat.sink.next(email, /Link a single sign-on identity/);
    expect((await chat.t.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/link', payload: { token: tokenFrom(mail.text) } })).statusCode).toBe(200);

    const linked = await signIn(chat.t, workspace.id, sub);
    expect(linked.session).toBeDefined();
    const workspaces = await chat.t.app.inject({ url: '/api/v1/workspaces', headers: { cookie: `bastion_session=${linked.session}` } });
    expect(workspaces.json().workspaces).toContainEqual(expect.objectContaining({ id: workspace.id, role: 'viewer' }));
    const member = await chat.t.database.db.selectFrom('workspace_members').selectAll().where('workspace_id', '=', workspace.id).where('user_id', '=', userId).executeTakeFirst();
    expect(member?.role).toBe('viewer');
  });

  it('never creates accounts for emails a workspace provider asserts', async () => {
    const { workspace } = await workspaceWithSso();
    const sub = `ghost-${++n}`;
    provider.accounts.set(sub, { email: `ghost${n}@example.org`, email_verified: true });
    const attempt = await signIn(chat.t, workspace.id, sub);
    expect(attempt.session).toBeUndefined();
    expect(attempt.location).toContain('#error=invalid_token');
    expect(await chat.t.database.db.selectFrom('users').select('id').where('email', '=', `ghost${n}@example.org`).executeTakeFirst()).toBeUndefined();
  });

  it('cannot reach a provider on a private address that is not allow-listed [ASVS 1.3.6, 13.2.4]', async () => {
    const closed = await buildTestApp({ database: chat.t.database, env: { REQUIRE_MFA: 'none' } });
    try {
      const { workspace } = await workspaceWithSso(closed);
      const attempt = await signIn(closed, workspace.id, 'nobody');
      expect(attempt.location).toBe(`${PUBLIC_URL}/sign-in#error=service_unavailable`);
    } finally {
      await closed.close();
    }
  });

  it('is managed by owners and admins of shared workspaces only, with validated input', async () => {
    const { owner, workspace } = await workspaceWithSso();
    const stranger = await apiUser(chat.t);
    expect((await stranger.get(`/workspaces/${workspace.id}/sso`)).statusCode).toBe(404);
    expect((await stranger.request('PUT', `/workspaces/${workspace.id}/sso`, { issuer: 'https://evil.example', clientId: 'x', clientSecret: 'y'.repeat(10) })).statusCode).toBe(404);
    const personal = (await stranger.get('/workspaces')).json().workspaces[0].id;
    expect((await stranger.request('PUT', `/workspaces/${personal}/sso`, { issuer: 'https://login.example.com', clientId: 'x', clientSecret: 'y'.repeat(10) })).statusCode).toBe(409);
    for (const body of [
      { issuer: 'http://login.example.com', clientId: 'x', clientSecret: 'y'.repeat(10) },
      { issuer: 'https://user:pw@login.example.com', clientId: 'x' },
      { issuer: 'javascript:alert(1)', clientId: 'x' },
      { issuer: 'https://login.example.com', clientId: '', clientSecret: 'y'.repeat(10) },
      { issuer: 'https://login.example.com', clientId: 'x', defaultRole: 'owner' },
    ]) {
      const response = await owner.request('PUT', `/workspaces/${workspace.id}/sso`, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await owner.get(`/workspaces/${workspace.id}/sso`)).json().sso.issuer).toBe(provider.issuer);
    const started = await chat.t.app.inject({ url: '/api/v1/auth/oidc/start?workspace=00000000-0000-4000-8000-000000000000' });
    expect(started.headers.location).toBe(`${PUBLIC_URL}/sign-in#error=not_found`);
    expect((await owner.delete(`/workspaces/${workspace.id}/sso`)).statusCode).toBe(200);
    expect((await owner.get(`/workspaces/${workspace.id}/sso`)).json().sso).toBeNull();
  });
});
