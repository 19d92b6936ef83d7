/**
 * The typed security-event stream: redaction (nothing secret stored or logged), who/where
 * on every event, the emissions at their sources, and the read endpoints.
 */
import { describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { LogCapture, waitFor } from '../../../test/harness.js';
import { createLogger } from '../../platform/log.js';
import { WorkspaceService } from '../workspaces/service.js';
import { SecurityEvents } from './service.js';
import { EVENT_CATALOG, type SecurityEventInput } from './types.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none', MONITOR_SAMPLE_SECONDS: '0' });
let n = 0;
const email = () => `watched${++n}@example.org`;
const from = (ip: string, agent = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0') => new BrowserClient(fixture.t.app, 'http://127.0.0.1:3000', agent, ip);
const eventsOf = (type: string) => fixture.t.database.db.selectFrom('security_events').selectAll().where('type', '=', type).execute();

describe('redaction', () => {
  it('stores and logs only the allow-listed detail keys of the type, never a password or token [ASVS 16.2.5, 16.4.1]', async () => {
    const logs = new LogCapture();
    const events = new SecurityEvents({ db: fixture.t.database.db, store: fixture.t.store, clock: fixture.clock, logger: createLogger('info', logs) });
    const hostile = {
      type: 'auth.sign_in_failed',
      userId: null,
      ip: '192.0.2.1',
      userAgent: 'curl/8\n{"level":60,"forged":true}',
      details: { factor: 'password', locked: false, password: 'correct horse battery staple', token: 'bst_reset_abc123', account: 'bst_key_0123456789abcdef', nested: { secret: 'x' } },
    } as unknown as SecurityEventInput;
    await events.record(hostile);
    const [row] = await eventsOf('auth.sign_in_failed');
    expect(row!.details).toEqual({ factor: 'password', locked: false, account: '[REDACTED]' });
    expect(row!.user_agent).not.toContain('\n'); // ASVS 16.4.1: no forged log lines
    expect(row!.severity).toBe('warning');
    const line = logs.records().find((r) => r.securityEvent);
    expect(line).toMatchObject({ securityEvent: { type: 'auth.sign_in_failed', ip: '192.0.2.1', details: { factor: 'password' } } });
    for (const secret of ['correct horse', 'bst_reset_abc123', 'bst_key_0123', '"secret"']) {
      expect(logs.text).not.toContain(secret);
      expect(JSON.stringify(row)).not.toContain(secret);
    }
  });
});

describe('events at their sources', () => {
  it('records sign-in failures and successes with IP, user agent and request id [ASVS 16.2.1, 16.3.1]', async () => {
    const address = email();
    const userId = await createUser(fixture.t.database, { email: address });
    const browser = from('192.0.2.44', 'TestAgent/1.0');
    await browser.signIn(address, 'wrong password entirely');
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    const [failed] = await eventsOf('auth.sign_in_failed');
    expect(failed).toMatchObject({ user_id: userId, ip: '192.0.2.44', user_agent: 'TestAgent/1.0', details: { factor: 'password', locked: false } });
    expect(failed!.request_id).toMatch(/^[A-Za-z0-9._:-]+$/);
    expect(JSON.stringify(failed)).not.toContain('wrong password');
    const [succeeded] = await eventsOf('auth.sign_in_succeeded');
    expect(succeeded).toMatchObject({ user_id: userId, ip: '192.0.2.44', user_agent: 'TestAgent/1.0' });
    expect(succeeded!.request_id).not.toBe(failed!.request_id);
  });

  it('fills in the request for events raised inside services: a permission refusal, an API key, a session ended [ASVS 16.2.1]', async () => {
    const address = email();
    const userId = await createUser(fixture.t.database, { email: address });
    const browser = from('192.0.2.48', 'OriginAgent/2.0');
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    // A viewer of a shared workspace tries to change it: refused deep in the agents service.
    const workspaceId = crypto.randomUUID();
    const now = new Date();
    await fixture.t.database.db.insertInto('workspaces').values({ id: workspaceId, name: 'Shared', personal_owner_id: null, monthly_token_budget: null, created_at: now, updated_at: now }).execute();
    await fixture.t.database.db.insertInto('workspace_members').values({ workspace_id: workspaceId, user_id: userId, role: 'viewer', created_at: now }).execute();
    expect((await browser.post('/agents', { name: 'Refused' }, { 'x-workspace-id': workspaceId })).statusCode).toBe(403);
    expect((await browser.post('/api-keys', { name: 'Build', scopes: ['agents:read'] })).statusCode).toBe(201);
    expect((await browser.post('/auth/logout', {})).statusCode).toBeLessThan(300);
    for (const type of ['access.permission_denied', 'api_key.created', 'session.revoked']) {
      const rows = (await eventsOf(type)).filter((row) => row.user_id === userId);
      expect(rows, type).toHaveLength(1);
      expect(rows[0], type).toMatchObject({ ip: '192.0.2.48', user_agent: 'OriginAgent/2.0' });
      expect(rows[0]!.request_id, type).toMatch(/^[A-Za-z0-9._:-]+$/);
    }
  });

  it('samples 429s: an attack writes one rate-limit event per principal and minute', async () => {
    const attacker = from('192.0.2.45');
    const codes: number[] = [];
    for (let i = 0; i < 26; i++) codes.push((await attacker.post('/auth/login', { email: email(), password: 'x' })).statusCode);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThan(2);
    expect(await waitFor(async () => (await eventsOf('http.rate_limited')).length === 1, 2_000, 20)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await eventsOf('http.rate_limited')).toMatchObject([{ ip: '192.0.2.45', details: { code: 'rate_limited', policy: 'auth', method: 'POST', route: '/api/v1/auth/login' } }]);
  });

  it('records CSRF and CORS refusals [ASVS 16.3.2]', async () => {
    const address = email();
    await createUser(fixture.t.database, { email: address });
    const browser = from('192.0.2.46');
    await browser.signIn(address, PASSWORD);
    expect((await browser.post('/auth/logout', {}, { 'x-csrf-token': 'forged' })).statusCode).toBe(403);
    const foreign = await fixture.t.app.inject({ url: '/api/v1/auth/csrf', headers: { origin: 'https://evil.example' }, remoteAddress: '192.0.2.47' });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(await waitFor(async () => (await eventsOf('http.csrf_refused')).length === 1 && (await eventsOf('http.cors_refused')).length === 1, 2_000, 20)).toBe(true);
    expect((await eventsOf('http.cors_refused'))[0]).toMatchObject({ ip: '192.0.2.47', details: { origin: 'https://evil.example' } });
  });

  it('records webhook signature failures, sampled', async () => {
    const hook = () => fixture.t.app.inject({ method: 'POST', url: `/api/v1/hooks/agents/${crypto.randomUUID()}`, headers: { 'content-type': 'application/json' }, payload: '{"input":"x"}' });
    expect((await hook()).statusCode).toBe(401);
    expect((await hook()).statusCode).toBe(401); // another agent id: its own sample
    const agentId = crypto.randomUUID();
    const again = () => fixture.t.app.inject({ method: 'POST', url: `/api/v1/hooks/agents/${agentId}`, headers: { 'content-type': 'application/json' }, payload: '{"input":"x"}' });
    for (let i = 0; i < 3; i++) expect((await again()).statusCode).toBe(401);
    expect(await eventsOf('webhook.signature_failed')).toHaveLength(3);
    const [event] = await eventsOf('webhook.signature_failed');
    expect(event).toMatchObject({ severity: 'warning', details: { reason: 'no such webhook' } });
  });

  it('records decryption failures and permission refusals [ASVS 16.3.2]', async () => {
    await expect(fixture.t.encryptor.decrypt({ table: 'mail_outbox', column: 'text_body', rowId: 'r1' }, Buffer.from('garbage'))).rejects.toThrow();
    expect(await eventsOf('crypto.decrypt_failed')).toMatchObject([{ severity: 'critical', details: { code: 'malformed_ciphertext', table: 'mail_outbox', rowId: 'r1' } }]);

    const recorded: SecurityEventInput[] = [];
    const workspaces = new WorkspaceService(fixture.t.database.db, fixture.clock, { kind: 'outbox', send: async () => {}, close: async () => {} }, 'http://x', {
      record: async (event) => void recorded.push(event),
      recordSampled: async () => {},
      passwordPrefix: async () => undefined,
    });
    const context = { workspaceId: crypto.randomUUID(), userId: crypto.randomUUID(), role: 'viewer' as const, workspace: {} as never };
    expect(() => workspaces.require(context, 'workspace.write')).toThrow(/does not allow/);
    expect(recorded).toMatchObject([{ type: 'access.permission_denied', userId: context.userId, details: { role: 'viewer', permission: 'workspace.write' } }]);
  });
});

describe('GET /me/security-events', () => {
  it('lists only the caller’s own events, newest first, page by page', async () => {
    const address = email();
    const userId = await createUser(fixture.t.database, { email: address });
    const other = email();
    await createUser(fixture.t.database, { email: other });
    await from('192.0.2.50').signIn(other, 'not theirs');
    const browser = from('192.0.2.51');
    for (let i = 0; i < 2; i++) {
      await browser.signIn(address, `typo ${i}`);
      fixture.clock.advance(60_000);
    }
    expect((await browser.signIn(address, PASSWORD)).statusCode).toBe(200);
    const first = await browser.get('/me/security-events?limit=2');
    expect(first.statusCode).toBe(200);
    expect(first.json().events.map((e: { type: string }) => e.type)).toEqual(['auth.sign_in_succeeded', 'auth.sign_in_failed']);
    // Readable names for people, from the catalog.
    expect(first.json().events.map((e: { label: string }) => e.label)).toEqual(['Signed in', 'Failed sign-in']);
    const second = await browser.get(`/me/security-events?limit=2&cursor=${first.json().nextCursor}`);
    expect(second.json()).toMatchObject({ events: [{ type: 'auth.sign_in_failed', userId }], nextCursor: null });
    expect(JSON.stringify([first.json(), second.json()])).not.toContain(other);

    for (const query of ['limit=101', 'limit=0', 'limit=abc', 'cursor=AAAA', 'cursor=%00', 'userId=' + userId, 'type=x']) {
      const response = await browser.get(`/me/security-events?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    expect((await from('192.0.2.52').get('/me/security-events')).statusCode).toBe(401);
  });
});

describe('admin security endpoints', () => {
  it('filter events and count failed authentication; members are refused', async () => {
    const adminEmail = email();
    await createUser(fixture.t.database, { email: adminEmail, role: 'admin' });
    const victim = email();
    const victimId = await createUser(fixture.t.database, { email: victim });
    for (const ip of ['198.51.100.1', '198.51.100.1', '198.51.100.2']) {
      await from(ip).signIn(victim, 'guessing');
      fixture.clock.advance(60_000);
    }
    await from('198.51.100.1').signIn(email(), 'guessing'); // an unknown account
    const admin = from('192.0.2.60');
    expect((await admin.signIn(adminEmail, PASSWORD)).statusCode).toBe(200);

    const byIp = await admin.get('/admin/security/events?type=auth.sign_in_failed&ip=198.51.100.1');
    expect(byIp.statusCode).toBe(200);
    expect(byIp.json().events).toHaveLength(3);
    const byUser = await admin.get(`/admin/security/events?userId=${victimId}&since=${encodeURIComponent(new Date(fixture.clock.now().getTime() - 3_600_000).toISOString())}`);
    expect(byUser.json().events.map((e: { type: string }) => e.type)).toEqual(['auth.sign_in_failed', 'auth.sign_in_failed', 'auth.sign_in_failed']);

    const counts = await admin.get('/admin/security/failed-auth?windowMinutes=60');
    expect(counts.statusCode).toBe(200);
    expect(counts.json()).toMatchObject({
      total: 4,
      byIp: [
        { ip: '198.51.100.1', failures: 3 },
        { ip: '198.51.100.2', failures: 1 },
      ],
    });
    expect(counts.json().byAccount[0]).toMatchObject({ userId: victimId, failures: 3 });
    expect(counts.json().byAccount).toHaveLength(2);

    for (const query of ['type=auth.nope', 'ip=not-an-ip', "userId=1' or 1=1", 'since=yesterday', 'limit=1e9', 'evil=1']) {
      const response = await admin.get(`/admin/security/events?${query}`);
      expect(response.statusCode, query).toBe(400);
    }
    expect((await admin.get('/admin/security/failed-auth?windowMinutes=-5')).statusCode).toBe(400);

    const member = from('192.0.2.61');
    await member.signIn(victim, PASSWORD);
    expect((await member.get('/admin/security/events')).json().error.code).toBe('forbidden');
    expect((await member.get('/admin/security/failed-auth')).statusCode).toBe(403);
  });
});

describe('the event catalog', () => {
  it('names every event type in words, in sentence case, without a final period', () => {
    for (const [type, entry] of Object.entries(EVENT_CATALOG)) {
      expect(entry.label, type).toMatch(/^[A-Z][^.]*[^.\s]$/);
      expect(entry.label, type).not.toContain(type);
    }
  });
});
