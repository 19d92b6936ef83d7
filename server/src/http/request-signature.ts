/**
 * Verifying signed requests (src/sdk/sign.ts describes the scheme): 5-minute tolerance,
 * constant-time comparison, each signature accepted once (remembered in the store), and
 * up to two valid secrets so a secret can rotate with an overlap window.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Store } from '../platform/store/store.js';
import { canonicalString, computeSignature, parseSignatureHeader } from '../sdk/sign.js';
import { AppError } from '../errors.js';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface SignedRequest {
  method: string;
  url: string;
  body: string | Buffer;
  header: string | undefined;
}

const refused = (why: string) => new AppError('unauthenticated', `Invalid request signature: ${why}.`);

/** Throws 401 unless the request carries a fresh, unused signature by one of `secrets`. */
export async function verifyRequestSignature(request: SignedRequest, secrets: string[], store: Store, clock: Clock): Promise<void> {
  const parsed = request.header ? parseSignatureHeader(request.header) : undefined;
  if (!parsed) throw refused('missing or malformed Bastion-Signature header');
  const now = Math.floor(clock.now().getTime() / 1000);
  if (Math.abs(now - parsed.timestamp) > SIGNATURE_TOLERANCE_SECONDS) throw refused('timestamp outside the 5-minute window');
  const canonical = canonicalString({ timestamp: parsed.timestamp, method: request.method, url: request.url, body: request.body });
  const match = parsed.signatures.find((candidate) => secrets.some((secret) => timingSafeEqual(Buffer.from(computeSignature(secret, canonical), 'hex'), Buffer.from(candidate, 'hex'))));
  if (!match) throw refused('signature does not match');
  // The signature is its own nonce: remember it for longer than the window.
  const fresh = await store.set(`signature:${match}`, '1', { ifAbsent: true, ttlMs: 2 * SIGNATURE_TOLERANCE_SECONDS * 1000 });
  if (!fresh) throw refused('signature already used');
}
