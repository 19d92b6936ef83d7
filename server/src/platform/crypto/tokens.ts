/**
 * Bastion's own secrets (API keys, tokens): `bst_<kind>_<43 chars of base64url>`,
 * 256 random bits, recognisable by secret scanners. Only a SHA-256 hash is stored:
 * with 256 bits of entropy a fast hash is enough (no dictionary to attack).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PATTERN = /^bst_([a-z]{2,8})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedToken {
  /** Shown to the user once, never stored. */
  token: string;
  /** Stored: hex SHA-256 of the whole token. */
  hash: string;
}

export function generateToken(kind: string): GeneratedToken {
  if (!/^[a-z]{2,8}$/.test(kind)) throw new RangeError('token kind must be 2-8 lowercase letters');
  const token = `bst_${kind}_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}

/** A hint safe to show after creation: the prefix up to the first separator and the last 4 characters. */
export function maskSecret(secret: string): string {
  if (secret.length < 12) return '…';
  const prefix = /^[A-Za-z]+[-_]/.exec(secret)?.[0] ?? '';
  return `${prefix}…${secret.slice(-4)}`;
}
