/**
 * Memberships are cached in each instance (LocalCache) so a request needs no membership
 * query; a role change or a removal on one instance holds on the next request to every
 * other. Over real HTTP, as a load balancer sends requests (see sessions/session-cache.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { useTwoInstances } from '../../../test/instances.js';
import { addMember } from './repo.js';

const instances = useTwoInstances({ REQUIRE_MFA: 'none' });

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
  const owner = await apiUser(instances.a);
  const member = await apiUser(instances.a);
  const created = await owner.post('/workspaces', { name: 'Cached team' });
  expect(created.statusCode).toBe(201);
  const workspaceId = created.json().id as string;
  await addMember(instances.a.database.db, workspaceId, member.userId, 'member', new Date());
  member.workspaceId = workspaceId;
  // Read on B until its cache holds the membership (its broadcast subscription may still be connecting).
  for (let i = 0; i < 30; i++) {
    expect(await call(instances.urlB, member, 'GET', '/agents')).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { owner, member, workspaceId };
}

describe('membership cache across instances', () => {
  it('serves a membership from the instance cache (a hit needs no membership query)', async () => {
    const { member, workspaceId } = await team();
    // Removed behind the service's back (no broadcast): B still knows the membership.
    await instances.a.database.db.deleteFrom('workspace_members').where('workspace_id', '=', workspaceId).where('user_id', '=', member.userId).execute();
    expect(await call(instances.urlB, member, 'GET', '/agents')).toBe(200);
  });

  it('applies a demotion made on one instance to the next requests on the other, in parallel too', async () => {
    const { owner, member, workspaceId } = await team();
    expect(await call(instances.urlB, member, 'POST', '/agents', { name: 'Allowed' })).toBe(201);
    expect(await call(instances.urlA, owner, 'PATCH', `/workspaces/${workspaceId}/members/${member.userId}`, { role: 'viewer' })).toBe(200);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => call(instances.urlB, member, 'POST', '/agents', { name: `Refused ${i}` })));
    expect(answers).toEqual(Array(10).fill(403));
  });

  it('refuses a removed member on the other instance at once', async () => {
    const { owner, member, workspaceId } = await team();
    expect(await call(instances.urlA, owner, 'DELETE', `/workspaces/${workspaceId}/members/${member.userId}`)).toBe(200);
    expect(await call(instances.urlB, member, 'GET', '/agents')).toBe(404);
  });
});
