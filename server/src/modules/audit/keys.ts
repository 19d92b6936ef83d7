/**
 * The checkpoint signing key: 32 random bytes made once per installation, stored
 * envelope-encrypted under the instance data key (so master-key rotation re-wraps it and
 * it is never lost), never changed or deleted (the table is append-only like the log).
 *
 * Why a key of its own rather than the JWT signing keys: those rotate and are purged once
 * their last token expires, while a checkpoint must verify for as long as the log is kept.
 * Why HMAC-SHA256: the verifier is Bastion itself (`bastion audit verify`, holding the
 * master keys); someone with write access to the database but not the master keys can
 * neither read the key nor forge a checkpoint. The key id is in every checkpoint, so a
 * second key can be added later without invalidating the old checkpoints.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';

export const CURRENT_KEY_ID = 'audit-1';

const binding = (id: string) => ({ table: 'audit_keys', column: 'secret', rowId: id });

export class AuditKeys {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly clock: Clock,
  ) {}

  /** The key new checkpoints are signed with; created on first use (concurrent creators agree on one). */
  async current(): Promise<{ id: string; key: Buffer }> {
    const id = CURRENT_KEY_ID;
    const known = (await this.get(id)) ?? (await this.create(id));
    return { id, key: known };
  }

  /** A key by id, or undefined when there is no such key (a checkpoint naming it is forged). */
  async get(id: string): Promise<Buffer | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await this.db.selectFrom('audit_keys').select(['secret']).where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const key = await this.encryptor.decrypt(binding(id), Buffer.from(row.secret));
    this.cache.set(id, key);
    return key;
  }

  private async create(id: string): Promise<Buffer> {
    const sealed = await this.encryptor.encrypt({ scope: 'instance' }, binding(id), randomBytes(32));
    await this.db
      .insertInto('audit_keys')
      .values({ id, secret: sealed, created_at: this.clock.now() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    // Another process may have won the race: use whichever key was stored.
    const key = await this.get(id);
    if (!key) throw new Error('audit signing key could not be stored');
    return key;
  }
}
