/**
 * TOTP (RFC 6238) with otplib: SHA-1, 6 digits, 30 s period (what authenticator apps
 * support), ±1 step of drift (RFC 6238 §5.2), secrets of 160 random bits (ASVS 6.5.3).
 */
import { createHash, randomBytes } from 'node:crypto';
import { generate, generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';

export const TOTP_PERIOD_SECONDS = 30;

export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(secret: string, email: string): string {
  return generateURI({ issuer: 'Bastion', label: email, secret });
}

export async function totpQrSvgDataUrl(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** The time step a code is valid for at `now`, or null when it is wrong. */
export async function matchTotp(secret: string, code: string, now: Date): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  const result = await verify({ secret, token: code, epoch: Math.floor(now.getTime() / 1000), epochTolerance: TOTP_PERIOD_SECONDS });
  return result.valid ? ((result as { timeStep?: number }).timeStep ?? null) : null;
}

/** For tests and tools: the code at a given time. */
export function totpAt(secret: string, when: Date): Promise<string> {
  return generate({ secret, epoch: Math.floor(when.getTime() / 1000) });
}

const RECOVERY_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ23456789'; // no 0/O, 1/I/L, U

/** Ten single-use recovery codes of 16 characters (~78 bits each), shown once. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: 10 }, () => {
    let chars = '';
    while (chars.length < 16) {
      // Rejection sampling: only bytes below 240 (= 8 × 30) map uniformly onto the alphabet.
      for (const byte of randomBytes(32)) if (byte < 240 && chars.length < 16) chars += RECOVERY_ALPHABET[byte % 30];
    }
    return chars.match(/.{4}/g)!.join('-');
  });
}

export function hashRecoveryCode(code: string): string {
  const canonical = code.toUpperCase().replace(/[\s-]/g, '');
  return createHash('sha256').update(`bastion-recovery:${canonical}`).digest('hex');
}

export function looksLikeRecoveryCode(code: string): boolean {
  return /^[A-Z0-9]{4}(-?[A-Z0-9]{4}){3}$/i.test(code.trim());
}
