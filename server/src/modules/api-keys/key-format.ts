/**
 * API key format: `bst_key_<43 chars: 256 random bits, base64url>_<8 hex: CRC-32 of them>`.
 * The prefix lets secret scanners find leaked keys; the checksum lets them (and Bastion,
 * before any lookup) tell a real key from a typo.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { hashToken } from '../../platform/crypto/tokens.js';

export const API_KEY_PATTERN = /^bst_key_([A-Za-z0-9_-]{43})_([0-9a-f]{8})$/;

function checksum(secret: string): string {
  return crc32(secret).toString(16).padStart(8, '0');
}

export function generateApiKey(): { key: string; hash: string; hint: string } {
  const secret = randomBytes(32).toString('base64url');
  const key = `bst_key_${secret}_${checksum(secret)}`;
  return { key, hash: hashToken(key), hint: `bst_key_…${key.slice(-12, -9)}${key.slice(-4)}` };
}

/** True when the key is well formed and its checksum matches. */
export function isWellFormedApiKey(key: string): boolean {
  const match = API_KEY_PATTERN.exec(key);
  return match !== null && checksum(match[1]!) === match[2];
}
