/**
 * API keys are cached by each instance (LocalCache), so a request made with a key usually
 * costs no query; revoking a key must still refuse it on the very next request on every
 * instance. Two instances on one database and store, over real HTTP, as a load balancer
 * sends the requests.
 */
import { describe, expect, it } from 'vitest';
import { createUser } from '../../../test/accounts.js';
import { useTwoInstances } from '../../../test/instances.js';
import { hashToken } from '../../platform/crypto/tokens.js';
import { SCOPES } from '../../principal.js';

const instances = useTwoInstances({ REQUIRE_MFA: 'none' });

async function status(base: string, key: string): Promise<number> {
  const response = await fetch(`${base}/api/v1/agents`, { headers: { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  return response.status;
}

/** A key, used on B until B's cache holds it (its broadcast subscription may still be connecting). */
async function keyCachedOnB(): Promise<{ userId: string; id: string; key: string }> {
  const userId = await createUser(instances.a.database, { email: `key-cache-${crypto.randomUUID()}@example.org` });
  const { key, row } = await instances.a.app.accounts.apiKeys.create(userId, { name: 'cached', scopes: [...SCOPES] });
  for (let i = 0; i < 30; i++) {
    expect(await status(instances.urlB, key)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { userId, id: row.id, key };
}

describe('API key cache across instances', () => {
  it('serves a key from the instance cache (a hit needs no query)', async () => {
    const { key } = await keyCachedOnB();
    // Deleted behind the service's back (no broadcast): B still knows the key, A has not cached it.
    await instances.a.database.db.deleteFrom('api_keys').where('key_hash', '=', hashToken(key)).execute();
    expect(await status(instances.urlB, key)).toBe(200);
    expect(await instances.b.app.accounts.apiKeys.evict([hashToken(key)])).toBeUndefined();
    expect(await status(instances.urlB, key), 'evicted: read again, and gone').toBe(401);
  });

  it('refuses a key revoked on one instance on the next request to the other, for parallel requests too [ASVS 7.4.1]', async () => {
    const { userId, id, key } = await keyCachedOnB();
    expect(await instances.a.app.accounts.apiKeys.revoke(userId, id)).toBe(true);
    const answers = await Promise.all(Array.from({ length: 20 }, () => status(instances.urlB, key)));
    expect(answers).toEqual(Array(20).fill(401));
  });

  it('refuses every key of an account whose keys were all revoked (disabled, "this wasn\'t me") on the other instance at once', async () => {
    const { userId, key } = await keyCachedOnB();
    await instances.a.app.accounts.apiKeys.revokeAllFor(userId);
    expect(await status(instances.urlB, key)).toBe(401);
  });
});
