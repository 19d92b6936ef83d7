/**
 * The cryptographic inventory (ASVS 5.0 V11.1.2) cannot drift from the code: the server's
 * source (and its worker scripts) is read for the algorithms it calls and the crypto
 * libraries it imports, and each must be in security/crypto-inventory.json, which must list
 * nothing the code no longer uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('../../', import.meta.url));
const INVENTORY = JSON.parse(fs.readFileSync(path.join(SERVER, '../security/crypto-inventory.json'), 'utf8')) as { algorithms: { id: string; algorithm: string; purpose: string; key: string; library: string }[] };

/** What in the code names an algorithm, and the inventory id it answers to. */
const USES: [RegExp, (match: RegExpMatchArray) => string][] = [
  [/create(?:De)?[cC]ipheriv\('([\w-]+)'/g, (m) => m[1]!.toLowerCase()],
  [/createHash\('(\w+)'/g, (m) => m[1]!.toLowerCase()],
  [/createHmac\('(\w+)'/g, (m) => `hmac-${m[1]!.toLowerCase()}`],
  [/hkdf(?:Sync)?\('(\w+)'/g, (m) => `hkdf-${m[1]!.toLowerCase()}`],
  [/pbkdf2|scrypt(?:Sync)?\(/g, () => 'pbkdf2/scrypt'],
  [/generateKeyPair(?:Sync)?\('(\w+)'|JWT_ALG = '(\w+)'/g, (m) => m[1] ?? m[2]!],
  [/from '@node-rs\/argon2'/g, () => 'argon2id'],
  [/from 'otplib'/g, () => 'totp-sha1'],
  [/from 'openid-client'/g, () => 'oidc'],
  [/\brandom(?:Bytes|UUID|Int)\(/g, () => 'csprng'],
  [/from '(bcrypt\w*|crypto-js|tweetnacl|node-forge|libsodium[\w-]*)'/g, (m) => m[1]!],
];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return /\.(ts|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [full] : [];
  });
}

function usedAlgorithms(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of [...sources(path.join(SERVER, 'src')), ...sources(path.join(SERVER, 'workers'))]) {
    const text = fs.readFileSync(file, 'utf8');
    for (const [pattern, id] of USES) {
      for (const match of text.matchAll(pattern)) used.set(id(match), [...(used.get(id(match)) ?? []), path.relative(SERVER, file)]);
    }
  }
  return used;
}

describe('cryptographic inventory (security/crypto-inventory.json)', () => {
  it('lists every algorithm the server uses, and only those [ASVS 11.1.2]', () => {
    const used = usedAlgorithms();
    const listed = INVENTORY.algorithms.map((entry) => entry.id);
    const missing = [...used].filter(([id]) => !listed.includes(id)).map(([id, files]) => `${id} (${[...new Set(files)].join(', ')})`);
    expect(missing, 'used in the code but not in the inventory').toEqual([]);
    expect(
      listed.filter((id) => !used.has(id)),
      'in the inventory but no longer used',
    ).toEqual([]);
  });

  it('says for each what it protects, with which key, from which library [ASVS 11.1.2]', () => {
    for (const entry of INVENTORY.algorithms) {
      for (const field of ['algorithm', 'purpose', 'key', 'library'] as const) expect(entry[field]?.trim().length, `${entry.id}.${field}`).toBeGreaterThan(0);
    }
    // Nothing weak in the list: no MD5, no SHA-1 outside TOTP (RFC 6238 fixes it), no ECB or CBC.
    expect(INVENTORY.algorithms.filter((entry) => /md5|ecb|cbc|des\b|rc4/i.test(entry.id) || (/sha1/i.test(entry.id) && entry.id !== 'totp-sha1'))).toEqual([]);
  });
});
