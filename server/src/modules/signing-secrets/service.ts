/**
 * Secrets for signed requests (inbound webhooks) and for signing Bastion's outbound
 * webhooks: `bst_whsec_…`, envelope-encrypted at rest, shown once. Rotation keeps the
 * previous secret valid for an overlap window so senders can switch without failures.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import { generateToken, maskSecret } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';

export interface SecretOwner {
  type: string;
  id: string;
}

const binding = (id: string) => ({ table: 'signing_secrets', column: 'secret', rowId: id });

export class SigningSecretService {
  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates the owner's secret, or rotates it: the new one becomes current and the old one
   * stays valid for `overlapMs`. Returns the new secret (shown once).
   */
  async rotate(owner: SecretOwner, overlapMs = 24 * 60 * 60 * 1000): Promise<{ secret: string; hint: string }> {
    const now = this.clock.now();
    const secret = generateToken('whsec').token;
    const id = randomUUID();
    const sealed = await this.encryptor.encrypt({ scope: 'instance' }, binding(id), secret);
    const hint = maskSecret(secret);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('signing_secrets')
        .set({ expires_at: new Date(now.getTime() + overlapMs) })
        .where('owner_type', '=', owner.type)
        .where('owner_id', '=', owner.id)
        .where('expires_at', 'is', null)
        .execute();
      await trx.insertInto('signing_secrets').values({ id, owner_type: owner.type, owner_id: owner.id, secret: sealed, hint, created_at: now }).execute();
    });
    return { secret, hint };
  }

  /** The secrets that verify right now: the current one first, then any still in its overlap window. */
  async validSecrets(owner: SecretOwner): Promise<string[]> {
    const now = this.clock.now();
    const rows = await this.db
      .selectFrom('signing_secrets')
      .select(['id', 'secret', 'expires_at'])
      .where('owner_type', '=', owner.type)
      .where('owner_id', '=', owner.id)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy(sql`expires_at is null`, 'desc') // the current secret first
      .orderBy('created_at', 'desc')
      .execute();
    return Promise.all(rows.map((row) => this.encryptor.decryptText(binding(row.id), Buffer.from(row.secret))));
  }

  /** The secret Bastion signs its own outbound requests with (the current one). */
  async currentSecret(owner: SecretOwner): Promise<string | undefined> {
    return (await this.validSecrets(owner))[0];
  }

  /** Deletes every secret of the owner (signing disabled); returns how many there were. */
  async revoke(owner: SecretOwner): Promise<number> {
    const result = await this.db.deleteFrom('signing_secrets').where('owner_type', '=', owner.type).where('owner_id', '=', owner.id).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deletes expired secrets (housekeeping). */
  async purgeExpired(): Promise<number> {
    const result = await this.db.deleteFrom('signing_secrets').where('expires_at', '<=', this.clock.now()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
