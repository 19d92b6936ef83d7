/**
 * Typed failures of the crypto layer. Messages are fixed and say nothing about the
 * data; clients see a generic 500 internal_error, or 503 service_unavailable when the
 * master key is not configured (an operator's fix, not a broken record).
 */
export type CryptoErrorCode = 'malformed_ciphertext' | 'unsupported_version' | 'unknown_data_key' | 'unknown_master_key' | 'authentication_failed';

const MESSAGES: Record<CryptoErrorCode, string> = {
  malformed_ciphertext: 'ciphertext is malformed',
  unsupported_version: 'ciphertext version is not supported',
  unknown_data_key: 'data key not found',
  unknown_master_key: 'master key not configured',
  authentication_failed: 'decryption failed',
};

export class CryptoError extends Error {
  constructor(readonly code: CryptoErrorCode) {
    super(MESSAGES[code]);
    this.name = 'CryptoError';
  }
}
