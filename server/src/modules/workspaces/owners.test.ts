/**
 * The owner rule under concurrency: requests that each leave an owner behind when run
 * alone must not, run at once, leave the workspace without one. Each race is released
 * over real HTTP (test/parallel.ts) and repeated, on whichever backend the run uses.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { buildTestApp, silentLogger, testDatabase, type TestApp } from '../../../test/harness.js';
import { yieldingDatabase } from '../../../test/io-yield.js';
import { burst, release, type BurstRequest, type BurstResponse } from '../../../test/parallel.js';
import { ManualClock } from '../../platform/clock.js';
import type { Mailer } from '../../platform/mail/mailer.js';
import type { AuthDeps } from '../auth/deps.js';
import { ErasureService } from '../privacy/erasure.js';
import { SessionService } from '../sessions/service.js';
import { WorkspaceService } from './service.js';

const fixture = {
  clock: new ManualClock(),
  app: undefined as TestApp | undefined,
  get t(): TestApp {
    if (!this.app) throw new Error('app not started');
    return this.app;
  },
};
beforeAll(async () => {
  fixture.app = await buildTestApp({ clock: fixture.clock, database: yieldingDatabase(await testDatabase()), env: { REQUIRE_MFA: 'none', RATE_LIMIT_SCALE: '20' } });
});
afterAll(async () => fixture.app?.close());
beforeEach(async () => {
  await testDatabase();
});
const TRIALS = 5;
const LAST_OWNER = /needs at least one owner; make someone else owner first/;

/** A shared workspace with `count` owners (the creator first). */
async function ownedBy(count: number): Promise<{ workspaceId: string; owners: ApiClient[] }> {
  const owners = [await apiUser(fixture.t)];
  const created = await owners[0]!.post('/workspaces', { name: 'Race' });
  expect(created.statusCode, created.body).toBe(201);
  const workspaceId = created.json().id as string;
  for (let i = 1; i < count; i++) {
    const owner = await apiUser(fixture.t);
    await fixture.t.database.db.insertInto('workspace_members').values({ workspace_id: workspaceId, user_id: owner.userId, role: 'owner', created_at: new Date() }).execute();
    owners.push(owner);
  }
  return { workspaceId, owners };
}

async function ownerCount(workspaceId: string): Promise<number> {
  const rows = await fixture.t.database.db.selectFrom('workspace_members').select('user_id').where('workspace_id', '=', workspaceId).where('role', '=', 'owner').execute();
  return rows.length;
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
const as = (client: ApiClient, request: Omit<BurstRequest, 'headers'>): BurstRequest => ({ ...request, headers: client.headers() });
const statuses = (responses: BurstResponse[]) => responses.map((r) => r.statusCode).sort();

/** The refusal a person sees when they would remove the last owner. */
function expectLastOwnerRefusal(response: BurstResponse): void {
  expect(response.statusCode, response.body).toBe(409);
  expect(response.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: 'conflict', message: expect.stringMatching(LAST_OWNER) });
}

describe('the last owner, under concurrency', () => {
  it('lets all but one of several owners step down at once', async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const { workspaceId, owners } = await ownedBy(3);
      const responses = await burst(
        fixture.t.app,
        owners.map((o) => as(o, { method: 'PATCH', url: `/api/v1/workspaces/${workspaceId}/members/${o.userId}`, body: { role: 'admin' } })),
      );
      expect(await ownerCount(workspaceId), `trial ${trial}`).toBe(1);
      expect(statuses(responses), `trial ${trial}`).toEqual([200, 200, 409]);
      expectLastOwnerRefusal(responses.find((r) => r.statusCode === 409)!);
    }
  }, 60_000);

  it('lets all but one of several owners leave at once', async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const { workspaceId, owners } = await ownedBy(3);
      const responses = await burst(
        fixture.t.app,
        owners.map((o) => as(o, { method: 'DELETE', url: `/api/v1/workspaces/${workspaceId}/members/${o.userId}` })),
      );
      expect(await ownerCount(workspaceId), `trial ${trial}`).toBe(1);
      expect(statuses(responses), `trial ${trial}`).toEqual([200, 200, 409]);
      expectLastOwnerRefusal(responses.find((r) => r.statusCode === 409)!);
    }
  }, 60_000);

  it('keeps an owner when owners demote or remove each other at once', async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      for (const method of ['PATCH', 'DELETE'] as const) {
        // Each owner acts on the next one, in a circle: run one after another, one owner stays.
        const { workspaceId, owners } = await ownedBy(3);
        const next = (i: number) => owners[(i + 1) % owners.length]!;
        const responses = await burst(
          fixture.t.app,
          owners.map((o, i) => as(o, { method, url: `/api/v1/workspaces/${workspaceId}/members/${next(i).userId}`, ...(method === 'PATCH' ? { body: { role: 'member' } } : {}) })),
        );
        expect(await ownerCount(workspaceId), `${method} trial ${trial}`).toBeGreaterThanOrEqual(1);
        // The others were demoted or removed before their turn (403, 404) or are told why not (409).
        expect(
          responses.some((r) => r.statusCode === 200),
          `${method} trial ${trial}`,
        ).toBe(true);
        for (const refused of responses.filter((r) => r.statusCode !== 200)) expect([403, 404, 409], refused.body).toContain(refused.statusCode);
      }
    }
  }, 60_000);

  it('keeps an owner when an owner steps down while another owner’s account is erased', async () => {
    const { t, clock } = fixture;
    // The services of the app, on the same database: the erasure job is not an HTTP route.
    // (The job uses only these dependencies; the others serve requesting and cancelling.)
    const sessions = new SessionService(t.database.db, t.store, clock, { idleMs: 60 * 60_000, absoluteMs: 24 * 60 * 60_000 });
    const jobDeps: Partial<AuthDeps> = { db: t.database.db, store: t.store, clock, logger: silentLogger, sessions, apiKeys: t.app.accounts.apiKeys, users: t.app.accounts.users };
    const erasure = new ErasureService(jobDeps as AuthDeps, { graceDays: 0 });
    const noMail: Mailer = { kind: 'outbox', send: async () => undefined, close: async () => undefined };
    const workspaces = new WorkspaceService(t.database.db, clock, noMail, 'http://127.0.0.1:3000');
    for (let trial = 0; trial < TRIALS; trial++) {
      const { workspaceId, owners } = await ownedBy(2);
      const [leaving, staying] = owners as [ApiClient, ApiClient];
      await t.database.db.updateTable('users').set({ erasure_requested_at: clock.now(), erasure_scheduled_at: clock.now() }).where('id', '=', leaving.userId).execute();
      const context = await workspaces.resolve(staying.userId, workspaceId, 'members.read');
      // The erasure starts `trial` turns of the event loop after the step-down: a sweep over interleavings.
      const [, stepDown] = await release(2, async (i) =>
        i === 0
          ? (await turns(trial), erasure.runDue())
          : workspaces.changeRole(context, staying.userId, 'admin').then(
              () => 'ok',
              (error: unknown) => error,
            ),
      );
      const members = await t.database.db.selectFrom('workspace_members').select(['user_id', 'role']).where('workspace_id', '=', workspaceId).execute();
      expect(members, `trial ${trial}`).toEqual([{ user_id: staying.userId, role: 'owner' }]);
      // Either the step-down came first and the erasure handed ownership back, or it was refused.
      if (stepDown !== 'ok') expect(String(stepDown)).toMatch(LAST_OWNER);
    }
    await sessions.close();
  }, 60_000);
});
