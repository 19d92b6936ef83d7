/**
 * Each instance keeps the providers of saved connections (their base URL and opened key) for
 * a while, so an answer costs no connection query or decryption; a change or deletion on any
 * instance must still reach the next call on every other one. Two instances on one database
 * and store.
 */
import { describe, expect, it } from 'vitest';
import { createUser } from '../../../test/accounts.js';
import { useTwoInstances } from '../../../test/instances.js';
import type { WorkspaceContext } from '../workspaces/service.js';

const instances = useTwoInstances({ REQUIRE_MFA: 'none' });
const OWNER = { type: 'user' as const, userId: null };

/** A saved connection in a new person's workspace, with B's provider for it cached. */
async function connectionCachedOnB(): Promise<{ context: WorkspaceContext; id: string }> {
  const userId = await createUser(instances.a.database, { email: `provider-cache-${crypto.randomUUID()}@example.org` });
  const context = await instances.a.app.workspaces.workspaces.membership(userId, undefined);
  const { connection } = await instances.a.app.providers.providers.create(context, { name: 'Cached', kind: 'openai', baseUrl: 'https://llm.example.org/v1', apiKey: 'sk-cached-connection-0000', skipTest: true }, { ...OWNER, userId });
  const b = instances.b.app.providers.resolver;
  // Until B's broadcast subscription is live, B reads the row every time: ask until it keeps it.
  for (let i = 0; i < 30; i++) {
    await b.providerFor(context.workspaceId, connection.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { context, id: connection.id };
}

const deleteBehindTheServicesBack = (id: string) => instances.a.database.db.deleteFrom('provider_connections').where('id', '=', id).execute();

describe('provider cache across instances', () => {
  it('serves a connection from the instance cache (a hit needs no query)', async () => {
    const { context, id } = await connectionCachedOnB();
    await deleteBehindTheServicesBack(id);
    await expect(instances.b.app.providers.resolver.providerFor(context.workspaceId, id)).resolves.toMatchObject({ kind: 'openai' });
    // A has not cached it: it reads the row, and the row is gone.
    await expect(instances.a.app.providers.resolver.providerFor(context.workspaceId, id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('drops it on every instance when a connection is changed', async () => {
    const { context, id } = await connectionCachedOnB();
    await instances.a.app.providers.providers.update(context, id, { name: 'Renamed' });
    // If B still served its entry, the row's deletion would go unseen.
    await deleteBehindTheServicesBack(id);
    await expect(instances.b.app.providers.resolver.providerFor(context.workspaceId, id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a connection deleted on one instance on the next call to the other, for parallel calls too', async () => {
    const { context, id } = await connectionCachedOnB();
    await instances.a.app.providers.providers.delete(context, id, { ...OWNER, userId: context.userId });
    const answers = await Promise.allSettled(Array.from({ length: 20 }, () => instances.b.app.providers.resolver.providerFor(context.workspaceId, id)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill('rejected'));
  });
});
