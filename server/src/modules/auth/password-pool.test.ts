import { afterAll, describe, expect, it } from 'vitest';
import { buildTestApp, waitFor, type TestApp } from '../../../test/harness.js';
import os from 'node:os';
import { closePasswordPool, HASHING_NICE_INCREMENT, hashingPriorities, passwordThreads, verifyInPool, verificationsStarted } from './password-pool.js';
import { hashPassword } from './passwords.js';

let t: TestApp | undefined;

afterAll(async () => {
  await t?.close();
});

describe('the password hashing pool', () => {
  it('starts its thread when the server listens, before anyone signs in', async () => {
    t = await buildTestApp();
    // Other test files in this process may have used the pool: start from none.
    await closePasswordPool();
    expect(passwordThreads()).toBe(0);
    const verifications = verificationsStarted();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    expect(await waitFor(async () => passwordThreads() >= 1, 10_000, 20)).toBe(true);
    // Warming verifies nothing: the count sign-in's tests rely on is untouched.
    expect(verificationsStarted()).toBe(verifications);
  });

  it('still hashes and verifies in that thread', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(await verifyInPool(hash, 'correct horse battery staple')).toBe(true);
    expect(await verifyInPool(hash, 'correct horse battery stapler')).toBe(false);
    expect(passwordThreads()).toBeGreaterThanOrEqual(1);
  });

  it.runIf(process.platform === 'linux' && os.availableParallelism() > 1)('keeps one thread at the event loop’s priority and the others below it', async () => {
    const mine = os.getPriority(0);
    // Linux caps nice at 19 (a test run under `nice` starts higher).
    expect(await hashingPriorities()).toEqual({ steady: mine, spare: Math.min(19, mine + HASHING_NICE_INCREMENT) });
  });

  it.runIf(os.availableParallelism() > 1)('gives a second sign-in a second thread while the first one hashes', async () => {
    await closePasswordPool();
    const hash = await hashPassword('correct horse battery staple');
    expect(passwordThreads()).toBe(1);
    const results = await Promise.all([verifyInPool(hash, 'correct horse battery staple'), verifyInPool(hash, 'correct horse battery staple')]);
    expect(results).toEqual([true, true]);
    expect(passwordThreads()).toBe(2);
  });
});
