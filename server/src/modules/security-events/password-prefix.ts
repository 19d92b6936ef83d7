/**
 * The password-spraying signal: a keyed HMAC of the attempted password, cut to 4 hex
 * characters (16 bits), kept only in the detector's short windows.
 *
 * Why this gives an attacker nothing: 16 bits split every possible password into just
 * 65,536 buckets, so a prefix names a bucket shared by a vast number of candidates — it
 * cannot confirm a guess, and says nothing that the account's own argon2 hash does not
 * protect better. The key is random, lives only in the store (never in the database, the
 * logs or the config) and is replaced every week, so even the bucket cannot be computed
 * offline without first taking the store; the prefix is never stored with an event and
 * is bound to no account. Two different accounts failing with the same prefix is what
 * spraying looks like; honest typos spread evenly over the buckets.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Store } from '../../platform/store/store.js';

const KEY = 'mon:pwprefix:key';
const KEY_TTL_MS = 7 * 24 * 3_600_000;
export const PASSWORD_PREFIX_HEX = 4;

export async function passwordPrefix(store: Store, password: string): Promise<string> {
  let key = await store.get(KEY);
  if (!key) {
    await store.set(KEY, randomBytes(32).toString('base64url'), { ifAbsent: true, ttlMs: KEY_TTL_MS });
    key = (await store.get(KEY)) ?? '';
  }
  return createHmac('sha256', key).update(password.normalize('NFKC')).digest('hex').slice(0, PASSWORD_PREFIX_HEX);
}
