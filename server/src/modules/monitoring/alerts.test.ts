/**
 * Alerts end to end: a credential-stuffing script is blocked (and only its address), the
 * alert reaches the real SMTP sink and a signed webhook on loopback, admins list and
 * acknowledge it; deduplication, per-sink rate limits and resource pressure as units.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { silentLogger, testStore } from '../../../test/harness.js';
import { verifyRequestSignature } from '../../http/request-signature.js';
import { MemoryStore } from '../../platform/store/memory-store.js';
import { AlertService } from './alerts.js';
import { PressureSampler } from './pressure.js';
import { SpendWatch } from './spend.js';
import type { AlertNotice, AlertSink } from './sinks.js';

const SECRET = 'alert-webhook-secret-0123456789abcdef0123456789';
const received: { url: string; body: string; verified: boolean }[] = [];
const env: Record<string, string> = {
  REQUIRE_MFA: 'none',
  MONITOR_STUFFING_ACCOUNTS: '4',
  MONITOR_RESPONSES: 'credential_stuffing=block_ip',
  ALERT_EMAIL_TO: 'soc@example.org',
  ALERT_WEBHOOK_SECRET: SECRET,
  OUTBOUND_ALLOW_PRIVATE_WEBHOOKS: '127.0.0.1:*',
  MONITOR_SAMPLE_SECONDS: '0',
};
let receiver: http.Server;

beforeAll(async () => {
  const nonces = new MemoryStore({ maxKeys: 100, sweepIntervalMs: 0 });
  receiver = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const signed = { method: request.method ?? '', url: request.url ?? '', body, header: request.headers['bastion-signature'] as string | undefined };
      verifyRequestSignature(signed, [SECRET], nonces, { now: () => new Date() })
        .then(
          () => true,
          () => false,
        )
        .then((verified) => {
          received.push({ url: request.url ?? '', body, verified });
          response.writeHead(verified ? 204 : 401).end();
        });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  env.ALERT_WEBHOOK_URL = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/alerts?source=bastion`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
});

const fixture = useAccountsApp(env);
let n = 0;
const email = () => `stuffed${++n}@example.org`;
const from = (ip: string) => new BrowserClient(fixture.t.app, 'http://127.0.0.1:3000', undefined, ip);

describe('responses and sinks', () => {
  it('blocks a credential-stuffing script but not another address, and delivers the alert by mail and signed webhook [ASVS 6.3.1]', async () => {
    // The clock of these alerts is the test's manual clock; the receiver checks signatures against it.
    fixture.clock.set(new Date());
    const attacker = from('203.0.113.66');
    for (let i = 0; i < 4; i++) expect((await attacker.signIn(email(), 'leaked-password-1')).statusCode).toBe(401);
    const blocked = await attacker.signIn(email(), 'leaked-password-1');
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('ip_blocked');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await attacker.get('/auth/csrf')).statusCode).toBe(403); // every API route

    const address = email();
    await createUser(fixture.t.database, { email: address });
    expect((await from('192.0.2.10').signIn(address, PASSWORD)).statusCode).toBe(200);

    const mail = await fixture.sink.next('soc@example.org', /Security alert: credential_stuffing/);
    expect(mail.text).toContain('Key: ip:203.0.113.66');
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(1);
    expect(received[0]).toMatchObject({ url: '/hooks/alerts?source=bastion', verified: true });
    expect(JSON.parse(received[0]!.body)).toMatchObject({ event: 'security.alert', alert: { rule: 'credential_stuffing', key: 'ip:203.0.113.66', severity: 'critical' } });
    expect(received[0]!.body).not.toContain('leaked-password');
  });

  it('lets admins list and acknowledge alerts; members cannot, hostile queries get 400', async () => {
    const attacker = from('203.0.113.77');
    for (let i = 0; i < 4; i++) await attacker.signIn(email(), 'another-leaked-one');
    const adminEmail = email();
    await createUser(fixture.t.database, { email: adminEmail, role: 'admin' });
    const admin = from('192.0.2.20');
    expect((await admin.signIn(adminEmail, PASSWORD)).statusCode).toBe(200);
    const listed = await admin.get('/admin/alerts');
    expect(listed.statusCode).toBe(200);
    const [alert] = listed.json().alerts;
    expect(alert).toMatchObject({ rule: 'credential_stuffing', key: 'ip:203.0.113.77', count: 1, acknowledgedAt: null });

    expect((await admin.post(`/admin/alerts/${alert.id}/acknowledge`)).statusCode).toBe(200);
    expect((await admin.post(`/admin/alerts/${alert.id}/acknowledge`)).json().error.code).toBe('not_found');
    expect((await admin.get('/admin/alerts')).json().alerts).toEqual([]);
    expect((await admin.get('/admin/alerts?status=acknowledged')).json().alerts).toMatchObject([{ id: alert.id }]);
    for (const query of ['status=everything', 'limit=1000', 'rule=DROP%20TABLE', 'cursor=%27%3B--', 'cursor=AAAA', 'extra=1']) {
      const response = await admin.get(`/admin/alerts?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    const acknowledged = await fixture.t.database.db.selectFrom('security_events').select(['type', 'details']).where('type', '=', 'admin.action').execute();
    expect(acknowledged).toMatchObject([{ details: { action: 'alert.acknowledge', target: alert.id } }]);

    const memberEmail = email();
    await createUser(fixture.t.database, { email: memberEmail });
    const member = from('192.0.2.21');
    await member.signIn(memberEmail, PASSWORD);
    expect((await member.get('/admin/alerts')).statusCode).toBe(403);
    expect((await member.post(`/admin/alerts/${alert.id}/acknowledge`)).statusCode).toBe(403);
  });
});

describe('alert service', () => {
  class CollectingSink implements AlertSink {
    readonly name = 'collect';
    readonly delivered: AlertNotice[] = [];
    async deliver(alert: AlertNotice): Promise<void> {
      this.delivered.push(alert);
    }
  }

  it('merges the same rule and key within the dedup window, and raises anew after it or after acknowledgement', async () => {
    const store = await testStore();
    const sink = new CollectingSink();
    const alerts = new AlertService({ db: fixture.t.database.db, store, clock: fixture.clock, logger: silentLogger, sinks: [sink], dedupMs: 60 * 60_000, sinkMaxPerHour: 100 });
    const first = await alerts.raise({ rule: 'brute_force', key: 'account:abc', severity: 'warning', details: { failures: 10 } });
    const second = await alerts.raise({ rule: 'brute_force', key: 'account:abc', severity: 'warning', details: { failures: 12 } });
    expect(second).toEqual({ id: first!.id, created: false });
    await alerts.settled();
    expect(sink.delivered).toHaveLength(1);
    expect(await alerts.list({ status: 'open', limit: 10 })).toMatchObject([{ id: first!.id, count: 2, details: { failures: 12 } }]);

    fixture.clock.advance(61 * 60_000);
    expect((await alerts.raise({ rule: 'brute_force', key: 'account:abc', severity: 'warning', details: {} }))!.created).toBe(true);
    const open = await alerts.list({ status: 'open', limit: 10 });
    expect(await alerts.acknowledge(open[0]!.id, await createUser(fixture.t.database, { email: email() }))).toBe(true);
    expect((await alerts.raise({ rule: 'brute_force', key: 'account:abc', severity: 'warning', details: {} }))!.created).toBe(true);
    await store.close();
  });

  it('delivers at most ALERT_SINK_MAX_PER_HOUR alerts per sink; the rest are still recorded', async () => {
    const store = await testStore();
    const sink = new CollectingSink();
    const alerts = new AlertService({ db: fixture.t.database.db, store, clock: fixture.clock, logger: silentLogger, sinks: [sink], dedupMs: 60_000, sinkMaxPerHour: 2 });
    for (const key of ['ip:a', 'ip:b', 'ip:c']) await alerts.raise({ rule: 'credential_stuffing', key, severity: 'critical', details: {} });
    await alerts.settled();
    expect(sink.delivered.map((a) => a.key)).toEqual(['ip:a', 'ip:b']);
    expect(await alerts.list({ status: 'all', limit: 10 })).toHaveLength(3);
    await store.close();
  });
});

describe('resource pressure', () => {
  it('alerts on event-loop lag, heap and database-pool waiters above their thresholds, and not below', async () => {
    const store = await testStore();
    const alerts = new AlertService({ db: fixture.t.database.db, store, clock: fixture.clock, logger: silentLogger, sinks: [], dedupMs: 60_000, sinkMaxPerHour: 10 });
    const sampler = new PressureSampler(alerts, { eventLoopLagMs: 500, heapUsedRatio: 0.9, dbPoolWaiting: 5 }, () => undefined);
    await sampler.check({ eventLoopLagMs: 40, heapUsedRatio: 0.3, dbPoolWaiting: 0 });
    await sampler.check(sampler.read()); // this process, now: healthy
    expect(await alerts.list({ status: 'all', limit: 10 })).toEqual([]);
    await sampler.check({ eventLoopLagMs: 900, heapUsedRatio: 0.95, dbPoolWaiting: 7 });
    const raised = await alerts.list({ status: 'all', limit: 10 });
    expect(raised.map((a) => (a.details as { resource: string }).resource).sort()).toEqual(['db_pool', 'event_loop', 'heap']);
    await store.close();
  });
});

describe('provider spend per workspace', () => {
  const HOUR = 3_600_000;
  async function setUp() {
    const store = await testStore();
    const alerts = new AlertService({ db: fixture.t.database.db, store, clock: fixture.clock, logger: silentLogger, sinks: [], dedupMs: 60_000, sinkMaxPerHour: 10 });
    const spend = new SpendWatch(store, fixture.clock, alerts, { minTokens: 20_000, factor: 5 });
    const raised = async (workspaceId: string) => await fixture.t.database.db.selectFrom('security_alerts').select(['rule', 'details']).where('rule', '=', 'provider_spend').where('key', '=', `workspace:${workspaceId}`).execute();
    return { spend, raised };
  }

  it('alerts once when an hour’s tokens pass both the floor and 5× the workspace’s 24-hour mean', async () => {
    const { spend, raised } = await setUp();
    const workspaceId = crypto.randomUUID();
    for (let hour = 0; hour < 24; hour++) {
      await spend.observe(workspaceId, 6_000); // a steady 6k tokens an hour
      fixture.clock.advance(HOUR);
    }
    for (let i = 0; i < 4; i++) await spend.observe(workspaceId, 6_000); // 24k: over the floor, 4× the mean
    expect(await raised(workspaceId)).toEqual([]);
    for (let i = 0; i < 3; i++) await spend.observe(workspaceId, 6_000); // 42k: 7× the mean
    const alerts = await raised(workspaceId);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.details).toMatchObject({ tokensThisHour: 30_000, baselinePerHour: 6_000, factor: 5 });
    fixture.clock.advance(HOUR);
  });

  it('stays silent on steady spend, and on a new workspace while it has no baseline', async () => {
    const { spend, raised } = await setUp();
    const steady = crypto.randomUUID();
    for (let hour = 0; hour < 30; hour++) {
      await spend.observe(steady, 25_000 + (hour % 3) * 5_000); // over the floor every hour, near its mean
      fixture.clock.advance(HOUR);
    }
    const fresh = crypto.randomUUID();
    await spend.observe(fresh, 500_000); // far over the floor, but no 24-hour history to judge by
    expect(await raised(steady)).toEqual([]);
    expect(await raised(fresh)).toEqual([]);
  });
});
