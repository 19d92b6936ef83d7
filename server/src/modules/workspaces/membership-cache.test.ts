/**
 * Memberships are cached in each instance (LocalCache) so a request needs no membership
 * query; a role change or a removal on one instance holds on the next request to every
 * other. Over real HTTP, as a load balancer sends requests (see sessions/session-cache.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { buildTestApp, silentLogger, TEST_REDIS_URL, testStore, type TestApp } from '../../../test/harness.js';
import { RedisStore } from '../../platform/store/redis-store.js';
import type { Store } from '../../platform/store/store.js';
import { addMember } from './repo.js';

let a: TestApp;
let b: TestApp;
let urlA: string;
let urlB: string;
let storeA: Store;
let storeB: Store;

beforeAll(async () => {
  storeA = await testStore();
  storeB = storeA instanceof RedisStore ? new RedisStore({ url: TEST_REDIS_URL!, keyPrefix: storeA.prefix, commandTimeoutMs: 2_000, logger: silentLogger }) : storeA;
  a = await buildTestApp({ store: storeA, env: { REQUIRE_MFA: 'none' } });
  b = await buildTestApp({ store: storeB, database: a.database, env: { REQUIRE_MFA: 'none' } });
  urlA = await a.app.listen({ host: '127.0.0.1', port: 0 });
  urlB = await b.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  if (storeB !== storeA) await storeB.close();
  await storeA.close();
});

async function call(base: string, client: ApiClient, method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: client.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** A shared workspace with an owner and a member; the member's role is cached on B. */
async function team(): Promise<{ owner: ApiClient; member: ApiClient; workspaceId: string }> {
  const owner = await apiUser(a);
  const member = await apiUser(a);
  const created = await owner.post('/workspaces', { name: 'Cached team' });
  expect(created.statusCode).toBe(201);
  const workspaceId = created.json().id as string;
  await addMember(a.database.db, workspaceId, member.userId, 'member', new Date());
  member.workspaceId = workspaceId;
  // Read on B until its cache holds the membership (its broadcast subscription may still be connecting).
  for (let i = 0; i < 30; i++) {
    expect(await call(urlB, member, 'GET', '/agents')).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { owner, member, workspaceId };
}

describe('membership cache across instances', () => {
  it('serves a membership from the instance cache (a hit needs no membership query)', async () => {
    const { member, workspaceId } = await team();
    // Removed behind the service's back (no broadcast): B still knows the membership.
    await a.database.db.deleteFrom('workspace_members').where('workspace_id', '=', workspaceId).where('user_id', '=', member.userId).execute();
    expect(await call(urlB, member, 'GET', '/agents')).toBe(200);
  });

  it('applies a demotion made on one instance to the next requests on the other, in parallel too', async () => {
    const { owner, member, workspaceId } = await team();
    expect(await call(urlB, member, 'POST', '/agents', { name: 'Allowed' })).toBe(201);
    expect(await call(urlA, owner, 'PATCH', `/workspaces/${workspaceId}/members/${member.userId}`, { role: 'viewer' })).toBe(200);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => call(urlB, member, 'POST', '/agents', { name: `Refused ${i}` })));
    expect(answers).toEqual(Array(10).fill(403));
  });

  it('refuses a removed member on the other instance at once', async () => {
    const { owner, member, workspaceId } = await team();
    expect(await call(urlA, owner, 'DELETE', `/workspaces/${workspaceId}/members/${member.userId}`)).toBe(200);
    expect(await call(urlB, member, 'GET', '/agents')).toBe(404);
  });
});
