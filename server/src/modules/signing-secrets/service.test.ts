/** Signing secrets on the database under test: encrypted at rest, rotation with overlap, used by the verifier. */
import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { testDatabase, testKeyring } from '../../../test/harness.js';
import { verifyRequestSignature } from '../../http/request-signature.js';
import { ManualClock } from '../../platform/clock.js';
import { Encryptor } from '../../platform/crypto/envelope.js';
import type { Database } from '../../platform/db/database.js';
import { MemoryStore } from '../../platform/store/memory-store.js';
import { signRequest } from '../../sdk/sign.js';
import { SigningSecretService } from './service.js';

let database: Database;
const clock = new ManualClock();
const owner = { type: 'agent_webhook', id: 'agent-1' };

beforeEach(async () => {
  database = await testDatabase();
});

describe('signing secrets', () => {
  it('are shown once, stored encrypted, and rotate with an overlap window [ASVS 13.3.4]', async () => {
    const secrets = new SigningSecretService(database.db, new Encryptor(database.db, testKeyring), clock);
    const first = await secrets.rotate(owner);
    expect(first.secret).toMatch(/^bst_whsec_[A-Za-z0-9_-]{43}$/);
    const dump = await sql<{ row: string }>`select t::text as row from signing_secrets t`.execute(database.db);
    expect(dump.rows.map((r) => r.row).join()).not.toContain(first.secret.slice(10));
    expect(await secrets.validSecrets(owner)).toEqual([first.secret]);

    const second = await secrets.rotate(owner, 60_000);
    expect(await secrets.validSecrets(owner)).toEqual([second.secret, first.secret]);
    expect(await secrets.currentSecret(owner)).toBe(second.secret);

    const store = new MemoryStore({ maxKeys: 100, sweepIntervalMs: 0 });
    const body = '{"ping":true}';
    const verify = async (secret: string) =>
      verifyRequestSignature(
        { method: 'POST', url: '/api/v1/hooks/agents/agent-1', body, header: signRequest(secret, { method: 'POST', url: '/api/v1/hooks/agents/agent-1', body }, clock.now()) },
        await secrets.validSecrets(owner),
        store,
        clock,
      );
    await expect(verify(first.secret)).resolves.toBeUndefined(); // old secret, inside the overlap
    clock.advance(61_000);
    await expect(verify(first.secret)).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(verify(second.secret)).resolves.toBeUndefined();
    expect(await secrets.purgeExpired()).toBe(1);
    expect(await secrets.validSecrets({ type: 'agent_webhook', id: 'other' })).toEqual([]);
    await store.close();
  });
});
