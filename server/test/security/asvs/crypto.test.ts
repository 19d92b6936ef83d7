/**
 * ASVS 5.0 V11.3.4 (L3): AES-GCM nonces are never reused under one key. Bastion draws a
 * fresh 96-bit random nonce for every seal (NIST SP 800-38D §8.2.2); a counter reset, a
 * fixed IV or a nonce derived from the plaintext would repeat one here.
 */
import { describe, expect, it } from 'vitest';
import { NONCE_BYTES, open, seal } from '../../../src/platform/crypto/aead.js';
import { generateMasterKey } from '../../../src/platform/crypto/master-keys.js';

describe('AES-GCM nonces', () => {
  it('differ for every seal of the same plaintext under the same key [ASVS 11.3.4]', () => {
    const key = generateMasterKey().key;
    const header = Buffer.from([1, 7]);
    const binding = Buffer.from('user:42');
    const nonces = new Set<string>();
    const ciphertexts = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const blob = seal(key, header, Buffer.from('the same secret'), binding);
      nonces.add(blob.subarray(header.length, header.length + NONCE_BYTES).toString('hex'));
      ciphertexts.add(blob.subarray(header.length + NONCE_BYTES).toString('hex'));
      if (i === 0) expect(open(key, blob, header.length, binding).toString()).toBe('the same secret');
    }
    expect(nonces.size).toBe(20_000);
    expect(ciphertexts.size).toBe(20_000);
  });
});
