import { afterAll, describe, expect, it } from 'vitest';
import { buildTestApp, waitFor, type TestApp } from '../../../test/harness.js';
import { closePasswordPool, passwordThreads, verifyInPool, verificationsStarted } from './password-pool.js';
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
});
