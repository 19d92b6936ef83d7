/**
 * Master keys (key-encryption keys) as configured: `id:base64key` entries separated by
 * commas or newlines, 32 random bytes each, the active one marked with a leading `*`
 * (a single key is active without a mark). Used by config validation and the key file.
 */
import { randomBytes } from 'node:crypto';

export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface MasterKeySet {
  keys: MasterKey[];
  activeId: string;
}

const ENTRY = /^(\*?)([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/_-]{43}=?)$/;
export const MASTER_KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parses a master key list. Problems are described without the key material.
 * Returns undefined (and fills `problems`) when the list is unusable.
 */
export function parseMasterKeys(text: string, label: string, problems: string[]): MasterKeySet | undefined {
  const entries = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const keys: MasterKey[] = [];
  const marked: string[] = [];
  const before = problems.length;
  for (const [index, entry] of entries.entries()) {
    const match = ENTRY.exec(entry);
    const material = match?.[3];
    const key = material ? Buffer.from(material, /[-_]/.test(material) ? 'base64url' : 'base64') : undefined;
    if (!match || !key || key.length !== 32) {
      problems.push(`${label}: entry ${index + 1} must be id:base64 of exactly 32 bytes`);
      continue;
    }
    const id = match[2]!;
    if (keys.some((k) => k.id === id)) problems.push(`${label}: duplicate key id "${id}"`);
    else if (isWeakKey(key)) problems.push(`${label}: key "${id}" is not random (generate one with \`bastion keys generate\`)`);
    else keys.push({ id, key });
    if (match[1] === '*') marked.push(id);
  }
  if (keys.length === 0 && problems.length === before) problems.push(`${label}: no keys`);
  if (marked.length > 1) problems.push(`${label}: ${marked.length} keys are marked active with "*"; mark exactly one`);
  if (marked.length === 0 && keys.length > 1) problems.push(`${label}: mark the active key with a leading "*", e.g. *k2:…`);
  if (problems.length > before) return undefined;
  return { keys, activeId: marked[0] ?? keys[0]!.id };
}

/** Renders a key set in the format `parseMasterKeys` reads. */
export function formatMasterKeys(set: MasterKeySet, separator = ','): string {
  return set.keys.map((k) => `${k.id === set.activeId ? '*' : ''}${k.id}:${k.key.toString('base64')}`).join(separator);
}

/** A fresh random master key with a time-ordered id (`k` + UTC date + random suffix). */
export function generateMasterKey(now = new Date()): MasterKey {
  const stamp = now.toISOString().slice(0, 10).replaceAll('-', '');
  return { id: `k${stamp}${randomBytes(3).toString('hex')}`, key: randomBytes(32) };
}

/** A random 32-byte key has ~30 distinct byte values; placeholders like "aaaa…" or 0..31 don't. */
function isWeakKey(key: Buffer): boolean {
  const distinct = new Set(key).size;
  const sequential = key.every((byte, i) => i === 0 || byte === ((key[i - 1]! + 1) & 0xff));
  return distinct < 16 || sequential;
}
