/** Queries on user_identities (accounts linked to an OpenID Connect issuer + subject); no rules here. `db` may be a transaction. */
import type { Insertable } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { UserIdentitiesTable } from '../../platform/db/schema/index.js';

export type NewIdentity = Insertable<UserIdentitiesTable>;

/** The account linked to this identity, if any. */
export function findIdentityUser(db: Db, issuer: string, subject: string): Promise<{ user_id: string } | undefined> {
  return db.selectFrom('user_identities').select('user_id').where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
}

export async function insertIdentity(db: Db, row: NewIdentity): Promise<void> {
  await db.insertInto('user_identities').values(row).execute();
}

/** Links the identity unless it already is (to anyone). */
export async function insertIdentityIfAbsent(db: Db, row: NewIdentity): Promise<void> {
  await db
    .insertInto('user_identities')
    .values(row)
    .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
    .execute();
}
