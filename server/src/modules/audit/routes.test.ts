/** GET /api/v1/admin/audit, and the entries the wired routes write, through the real app. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser, PASSWORD, tokenFrom } from '../../../test/accounts.js';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { buildTestApp, testDatabase, testKeyring, type TestApp } from '../../../test/harness.js';
import { systemClock } from '../../platform/clock.js';
import { ApiKeyService } from '../api-keys/service.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import { readOutbox } from '../../platform/mail/mailer.js';
import { AuditKeys } from './keys.js';
import { verifyAuditLog } from './verify.js';

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp({ env: { REQUIRE_MFA: 'none' } });
});
afterAll(async () => t?.close());
beforeEach(async () => {
  await testDatabase();
});

async function entries() {
  return t.database.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
}

describe('GET /admin/audit', () => {
  it('pages through the log for admins and records the read', async () => {
    const admin = await apiUser(t, { role: 'admin' });
    for (let i = 0; i < 3; i++) expect((await admin.get('/admin/caches')).statusCode).toBe(200);

    const first = await admin.get('/admin/audit?limit=2');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().entries.map((e: { seq: number }) => e.seq)).toEqual([1, 2]);
    expect(first.json().next).toBe(2);
    expect(first.json().entries[0]).toMatchObject({ action: 'admin.cache.read', actor: { type: 'api_key', id: admin.userId, ip: expect.any(String) }, pseudonymised: false });
    const second = (await admin.get('/admin/audit?after=2&limit=2')).json();
    expect(second.entries.map((e: { seq: number; action: string }) => [e.seq, e.action])).toEqual([
      [3, 'admin.cache.read'],
      [4, 'admin.audit.read'], // the first page's read, recorded after it was taken
    ]);
    expect(second.entries[1].prevHash).toBe(second.entries[0].hash);
  });

  it('refuses non-admins and credentials without admin:write', async () => {
    const member = await apiUser(t);
    const refused = await member.get('/admin/audit');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('forbidden');
    expect(await entries()).toEqual([]);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit' })).statusCode).toBe(401);
    // An administrator's key without admin:write is refused too.
    const adminId = await createUser(t.database, { email: `narrow-${Date.now()}@example.org`, role: 'admin' });
    const { key } = await new ApiKeyService(t.database.db, systemClock, t.store).create(adminId, { name: 'narrow', scopes: ['agents:read'] });
    const narrow = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit', headers: { authorization: `Bearer ${key}` } });
    expect(narrow.statusCode).toBe(403);
    expect(narrow.json().error.code).toBe('insufficient_scope');
  });

  it('answers 400 to hostile query parameters', async () => {
    const admin = await apiUser(t, { role: 'admin' });
    for (const query of ['after=-1', 'after=abc', 'after=1e3', 'after=%201', 'after=1%20or%201=1', 'after=01', 'after=9999999999999999', 'limit=0', 'limit=1001', 'limit=2.5', 'foo=1', 'after=1&after=2', 'after[]=1']) {
      const response = await admin.get(`/admin/audit?${query}`);
      expect(response.statusCode, `${query}: ${response.body}`).toBe(400);
      expect(response.json().error.code, query).toBe('validation_failed');
    }
    expect(await entries()).toEqual([]);
  });
});

describe('wired routes', () => {
  it('record workspace, provider, agent, API key and admin actions with who, where and which request [ASVS 16.2.1]', async () => {
    const owner = await apiUser(t);
    const workspace = (await owner.post('/workspaces', { name: 'Audited' })).json();
    owner.workspaceId = workspace.id;

    // Invitation created, accepted by the invitee (audited too), role changed, member removed; another revoked.
    const invitee = await apiUser(t);
    const invitation = (await owner.post(`/workspaces/${workspace.id}/invitations`, { email: invitee.email, role: 'member' })).json();
    const mail = (await readOutbox(t.database.db, new Encryptor(t.database.db, testKeyring))).find((m) => m.to === invitee.email)!;
    expect((await invitee.post('/workspaces/invitations/accept', { token: tokenFrom(mail.text) })).statusCode).toBe(200);
    expect((await owner.patch(`/workspaces/${workspace.id}/members/${invitee.userId}`, { role: 'viewer' })).statusCode).toBe(200);
    expect((await owner.delete(`/workspaces/${workspace.id}/members/${invitee.userId}`)).statusCode).toBe(200);
    const other = (await owner.post(`/workspaces/${workspace.id}/invitations`, { email: 'someone@example.org' })).json();
    expect((await owner.delete(`/workspaces/${workspace.id}/invitations/${other.id}`)).statusCode).toBe(200);

    const connection = await owner.post('/provider-connections', { name: 'Local', kind: 'openai', baseUrl: 'https://llm.example.org/v1', apiKey: 'sk-test-secret-value', skipTest: true });
    expect(connection.statusCode, connection.body).toBe(201);
    expect((await owner.delete(`/provider-connections/${connection.json().id}`)).statusCode).toBe(200);

    const agent = (await owner.post('/agents', { name: 'Helper', providerConnectionId: null, systemPrompt: 'Be brief.', tools: [], temperature: 0 })).json();
    expect((await owner.patch(`/agents/${agent.id}`, { temperature: 0.5 })).statusCode).toBe(200);
    expect((await owner.delete(`/agents/${agent.id}`)).statusCode).toBe(200);

    // A refused action writes nothing.
    const before = (await entries()).length;
    expect((await ((await apiUser(t)) as ApiClient).delete(`/agents/${agent.id}`)).statusCode).toBe(404);
    expect((await entries()).length).toBe(before);

    // API keys are managed from a browser session.
    const email = `keys-${Date.now()}@example.org`;
    const userId = await createUser(t.database, { email });
    const browser = new BrowserClient(t.app);
    expect((await browser.signIn(email, PASSWORD)).statusCode).toBe(200);
    const key = await browser.post('/api-keys', { name: 'ci', scopes: ['agents:read'] });
    expect(key.statusCode, key.body).toBe(201);
    expect((await browser.request('DELETE', `/api-keys/${key.json().id}`)).statusCode).toBe(200);

    const rows = await entries();
    expect(rows.map((r) => [r.action, r.target_type, r.target_id, r.workspace_id, r.subject_id, r.actor_id])).toEqual([
      ['workspace.invitation.created', 'workspace_invitation', invitation.id, workspace.id, null, owner.userId],
      ['workspace.invitation.accepted', 'workspace_invitation', invitation.id, workspace.id, null, invitee.userId],
      ['workspace.member.role_changed', 'workspace_member', null, workspace.id, invitee.userId, owner.userId],
      ['workspace.member.removed', 'workspace_member', null, workspace.id, invitee.userId, owner.userId],
      ['workspace.invitation.created', 'workspace_invitation', other.id, workspace.id, null, owner.userId],
      ['workspace.invitation.revoked', 'workspace_invitation', other.id, workspace.id, null, owner.userId],
      ['provider.connection.created', 'provider_connection', connection.json().id, workspace.id, null, owner.userId],
      ['provider.connection.deleted', 'provider_connection', connection.json().id, workspace.id, null, owner.userId],
      ['agent.created', 'agent', agent.id, workspace.id, null, owner.userId],
      ['agent.updated', 'agent', agent.id, workspace.id, null, owner.userId],
      ['agent.deleted', 'agent', agent.id, workspace.id, null, owner.userId],
      ['api_key.created', 'api_key', key.json().id, null, null, userId],
      ['api_key.revoked', 'api_key', key.json().id, null, null, userId],
    ]);
    expect(rows[0]!).toMatchObject({ actor_type: 'api_key', actor_ip: '127.0.0.1', details: { role: 'member' } });
    expect(rows[0]!.actor_key_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows[1]!).toMatchObject({ actor_type: 'api_key', details: { role: 'member' } });
    expect(rows[2]!.details).toEqual({ role: 'viewer' });
    expect(rows[9]!.details).toEqual({ version: 2, fields: ['temperature'] });
    expect(rows[11]!).toMatchObject({ actor_type: 'user', actor_key_id: null, actor_ip: browser.ip, details: { scopes: ['agents:read'] } });
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(rows.length);
    // No secret and no invitee address reaches the log.
    expect(JSON.stringify(rows)).not.toMatch(/sk-test-secret-value|someone@example\.org/);
    expect(JSON.stringify(rows)).not.toContain(invitee.email);

    const keys = new AuditKeys(t.database.db, t.encryptor, systemClock);
    expect(await verifyAuditLog(t.database.db, keys)).toMatchObject({ ok: true, entries: rows.length });
  });
});
