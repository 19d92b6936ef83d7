/**
 * What a session is after its process (and the in-memory store with it) is gone, and which
 * sessions a user is shown: only those that still work. A new SessionService on an empty
 * store over the same database is what a restarted embedded server is; the real process is
 * in server/test/embedded-lock.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/accounts.js';
import { testDatabase, testStore } from '../../../test/harness.js';
import { ManualClock } from '../../platform/clock.js';
import { hashToken } from '../../platform/crypto/tokens.js';
import { MemoryStore } from '../../platform/store/memory-store.js';
import type { Store } from '../../platform/store/store.js';
import { SessionService } from './service.js';

const TIMEOUTS = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };
const CONTEXT = { ip: '10.0.0.1', userAgent: 'Test' };
const open: (SessionService | Store)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function setUp(store?: Store) {
  const database = await testDatabase();
  const clock = new ManualClock();
  const kept = store ?? (await testStore({ now: () => clock.now().getTime() }));
  const service = new SessionService(database.db, kept, clock, TIMEOUTS);
  open.push(service, kept);
  const userId = await createUser(database, { email: `s-${crypto.randomUUID()}@example.org` });
  /** The same database after a restart of the embedded default: an empty memory store. */
  const restarted = () => {
    const empty = new MemoryStore({ maxKeys: 1_000, sweepIntervalMs: 0, now: () => clock.now().getTime() });
    const again = new SessionService(database.db, empty, clock, TIMEOUTS);
    open.push(again, empty);
    return again;
  };
  return { database, clock, store: kept, service, userId, restarted };
}

describe('session list', () => {
  it('shows neither idle, expired nor revoked sessions', async () => {
    const { clock, service, userId } = await setUp();
    const used = await service.create(userId, CONTEXT);
    const unused = await service.create(userId, CONTEXT);
    const ended = await service.create(userId, CONTEXT);
    await service.revoke(userId, ended.state.id, 'test');
    expect((await service.list(userId)).map((s) => s.id).sort()).toEqual([used.state.id, unused.state.id].sort());

    clock.advance(20 * 60_000);
    expect(await service.authenticate(used.token)).not.toBeNull(); // counts as use
    clock.advance(15 * 60_000); // `unused`: 35 idle minutes
    expect(await service.authenticate(unused.token)).toBeNull();
    expect((await service.list(userId)).map((s) => s.id)).toEqual([used.state.id]);

    for (let hour = 0; hour < 12; hour++) {
      clock.advance(20 * 60_000);
      await service.authenticate(used.token);
    }
    expect(await service.authenticate(used.token)).toBeNull(); // past 12 hours however active
    expect(await service.list(userId)).toEqual([]);
  }, 120_000); // the first test of a worker creates and migrates its database

  it('with Redis, a session the store lost is over and not shown', async ({ skip }) => {
    const { store, service, userId } = await setUp();
    if (store.kind !== 'redis') skip();
    const lost = await service.create(userId, CONTEXT);
    await service.evict([hashToken(lost.token)]); // as a FLUSHALL would
    expect(await service.authenticate(lost.token)).toBeNull();
    expect(await service.list(userId)).toEqual([]);
  }, 120_000);
});

describe('sessions on the memory store after a restart', () => {
  it('come back with their CSRF token; revoked and idle ones do not', async () => {
    const { clock, service, userId, restarted } = await setUp(new MemoryStore({ maxKeys: 1_000, sweepIntervalMs: 0 }));
    const live = await service.create(userId, CONTEXT);
    const revoked = await service.create(userId, CONTEXT);
    const idle = await service.create(userId, CONTEXT);
    await service.revoke(userId, revoked.state.id, 'test');
    clock.advance(20 * 60_000);
    await service.authenticate(live.token);

    clock.advance(15 * 60_000);
    const after = restarted();
    // Restored from its row (the same id, CSRF token and limits), then touched: this is use.
    expect(await after.authenticate(live.token)).toEqual({ ...live.state, lastSeenAt: clock.now().getTime() });
    expect(await after.authenticate(revoked.token)).toBeNull();
    expect(await after.authenticate(idle.token)).toBeNull();
    expect(await after.isActive(userId, live.state.id)).toBe(true);
    expect(await after.isActive(userId, idle.state.id)).toBe(false);
    expect((await after.list(userId)).map((s) => s.id)).toEqual([live.state.id]);

    // Access tokens of a session ended before the restart stay refused.
    const again = restarted();
    expect(await again.isRevoked(revoked.state.id)).toBe(false);
    await again.restoreRevocations();
    expect(await again.isRevoked(revoked.state.id)).toBe(true);
    expect(await again.isRevoked(live.state.id)).toBe(false);
  }, 120_000);
});
