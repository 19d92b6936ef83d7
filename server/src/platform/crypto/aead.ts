/**
 * AES-256-GCM sealing with a self-describing header, on Node's crypto only.
 *
 * Sealed layout: version (1 byte) | header fields | nonce (12) | ciphertext | tag (16).
 * The header is authenticated as associated data together with the caller's binding,
 * so changing the key id, the version or the binding makes opening fail.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoError } from './crypto-error.js';

export const NONCE_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit random nonces
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** Encrypts `plaintext` under `key`; `header` is prepended in clear and authenticated. */
export function seal(key: Buffer, header: Buffer, plaintext: Buffer, binding: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, binding]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
}

/** Opens a blob sealed with `seal`, given the length of its header. */
export function open(key: Buffer, blob: Buffer, headerBytes: number, binding: Buffer): Buffer {
  if (blob.length < headerBytes + NONCE_BYTES + TAG_BYTES) throw new CryptoError('malformed_ciphertext');
  const header = blob.subarray(0, headerBytes);
  const nonce = blob.subarray(headerBytes, headerBytes + NONCE_BYTES);
  const body = blob.subarray(headerBytes + NONCE_BYTES, blob.length - TAG_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([header, binding]));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new CryptoError('authentication_failed');
  }
}
