/** AES-GCM primitives against NIST vectors, tokens and masking. */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { open, seal } from './aead.js';
import { CryptoError } from './crypto-error.js';
import { formatMasterKeys, generateMasterKey, parseMasterKeys } from './master-keys.js';
import { constantTimeEqual, generateToken, hashToken, maskSecret, TOKEN_PATTERN } from './tokens.js';

describe('AES-256-GCM', () => {
  it('matches the NIST GCM test vector (gcmEncryptExtIV256, Count 0 with AAD)', () => {
    // Test Case 16 of the GCM specification (McGrew & Viega): 256-bit key, 60-byte plaintext, AAD.
    const key = Buffer.from('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', 'hex');
    const iv = Buffer.from('cafebabefacedbaddecaf888', 'hex');
    const plaintext = Buffer.from('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39', 'hex');
    const aad = Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex');
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    expect(ct.toString('hex')).toBe('522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662');
    expect(cipher.getAuthTag().toString('hex')).toBe('76fc6ece0f4e1768cddf8853bb2d551b');
    // The same vector through open(): header = empty, binding = the AAD.
    const blob = Buffer.concat([iv, ct, cipher.getAuthTag()]);
    expect(open(key, blob, 0, aad).equals(plaintext)).toBe(true);
  });

  it('round-trips and refuses any flipped bit, header or binding change [ASVS 11.3.3]', () => {
    const key = generateMasterKey().key;
    const header = Buffer.from([1, 2, 3]);
    const blob = seal(key, header, Buffer.from('secret'), Buffer.from('row-1'));
    expect(open(key, blob, 3, Buffer.from('row-1')).toString()).toBe('secret');
    for (let i = 0; i < blob.length; i++) {
      const tampered = Buffer.from(blob);
      tampered[i]! ^= 0x01;
      expect(() => open(key, tampered, 3, Buffer.from('row-1'))).toThrow(CryptoError);
    }
    expect(() => open(key, blob, 3, Buffer.from('row-2'))).toThrow(/decryption failed/);
    expect(() => open(key, blob.subarray(0, 20), 3, Buffer.from('row-1'))).toThrow(/malformed/);
    // Two seals of the same plaintext differ (random nonces).
    expect(seal(key, header, Buffer.from('x'), Buffer.alloc(0)).equals(seal(key, header, Buffer.from('x'), Buffer.alloc(0)))).toBe(false);
  });
});

describe('master key format', () => {
  it('round-trips through format and parse', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    const text = formatMasterKeys({ keys: [a, b], activeId: b.id }, '\n');
    const problems: string[] = [];
    const parsed = parseMasterKeys(text, 'file', problems);
    expect(problems).toEqual([]);
    expect(parsed?.activeId).toBe(b.id);
    expect(parsed?.keys[0]?.key.equals(a.key)).toBe(true);
  });
});

describe('tokens', () => {
  it('generates recognisable 256-bit tokens and stores only their hash [ASVS 11.5.1]', () => {
    const { token, hash } = generateToken('key');
    expect(token).toMatch(TOKEN_PATTERN);
    expect(Buffer.from(TOKEN_PATTERN.exec(token)![2]!, 'base64url')).toHaveLength(32);
    expect(hash).toBe(hashToken(token));
    expect(hash).not.toContain(token.slice(8));
    expect(generateToken('key').token).not.toBe(token);
    expect(() => generateToken('Bad_Kind')).toThrow(RangeError);
  });

  it('compares in constant time and masks secrets', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(maskSecret('sk-proj-abcdefghijklmnopa1b2')).toBe('sk-…a1b2');
    expect(maskSecret('bst_key_abcdefghijklmnopqrstuvwxyz')).toBe('bst_…wxyz');
    expect(maskSecret('short')).toBe('…');
  });
});
