/**
 * Password rules (NIST SP 800-63B-4, ASVS 6.2) and hashing (argon2id, OWASP parameters).
 * Length counts Unicode code points after NFKC; nothing is truncated; there are no
 * composition rules; common, guessable and personal passwords are refused with the reason.
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import { AppError } from '../../errors.js';
import { hashInPool, verifyInPool } from './password-pool.js';

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 (~40 ms here). */
export const ARGON2_PARAMS = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const PASSWORD_MAX_LENGTH = 1_024; // ASVS 6.2.9 asks ≥ 64; bound it so hashing stays cheap

const commonPasswords: string[] = (common.dictionary as Record<string, string[]>)['passwords-common'] ?? [];
const BLOCKLIST = new Set(commonPasswords);
const zxcvbn = new ZxcvbnFactory({ dictionary: common.dictionary, graphs: common.adjacencyGraphs });

export type PasswordRule = 'too_short' | 'too_long' | 'common' | 'guessable' | 'personal';

export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export interface PasswordContext {
  email: string;
  name: string;
  minLength: number;
}

/** The policy's answer: `score` is zxcvbn's 0–4, capped at 2 when a rule fails, for strength meters. */
export type PasswordVerdict = { ok: true; score: number } | { ok: false; rule: PasswordRule; message: string; score: number };

/** Judges a password against every rule, in order; the first rule broken is named with how to fix it. */
export function checkPassword(password: string, context: PasswordContext): PasswordVerdict {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  const personal = personalWords(context.email, context.name);
  // zxcvbn's cost grows with length: it judges the first 256 characters only.
  const result = zxcvbn.check(normalized.slice(0, 256), personal);
  const fail = (rule: PasswordRule, message: string): PasswordVerdict => ({ ok: false, rule, message, score: Math.min(result.score, 2) });
  if (length < context.minLength) return fail('too_short', `Use at least ${context.minLength} characters; a few unrelated words make a strong, memorable password.`);
  if (length > PASSWORD_MAX_LENGTH) return fail('too_long', `Use at most ${PASSWORD_MAX_LENGTH} characters.`);
  const lower = normalized.toLowerCase();
  const stripped = lower.replace(/[\d\W_]+$/u, '');
  if (BLOCKLIST.has(lower) || (stripped.length >= 4 && BLOCKLIST.has(stripped))) {
    return fail('common', 'This password appears in lists of common or breached passwords; choose another.');
  }
  if (personal.some((word) => lower.includes(word))) {
    return fail('personal', 'The password must not contain your email address or name.');
  }
  if (result.score < 3) {
    const hint = [result.feedback.warning, ...result.feedback.suggestions].filter(Boolean).join(' ');
    return fail('guessable', `This password is too easy to guess.${hint ? ` ${hint}` : ''} Add more unrelated words.`);
  }
  return { ok: true, score: result.score };
}

/** Throws `weak_password` naming the rule broken and how to fix it. */
export function assertPasswordAcceptable(password: string, context: PasswordContext): void {
  const verdict = checkPassword(password, context);
  if (!verdict.ok) throw new AppError('weak_password', verdict.message, [{ path: 'password', message: verdict.rule }]);
}

function personalWords(email: string, name: string): string[] {
  const local = email.split('@')[0] ?? '';
  return [email, local, ...name.split(/\s+/)].map((w) => w.normalize('NFKC').toLowerCase().trim()).filter((w) => w.length >= 3);
}

/** argon2id in the password pool (password-pool.ts): off the event loop and below its priority. */
export function hashPassword(password: string): Promise<string> {
  return hashInPool(normalizePassword(password), ARGON2_PARAMS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return verifyInPool(passwordHash, normalizePassword(password));
}

/** True when a stored hash was made with other parameters and should be recomputed at sign-in. */
export function needsRehash(passwordHash: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!match) return true;
  return Number(match[1]) !== ARGON2_PARAMS.memoryCost || Number(match[2]) !== ARGON2_PARAMS.timeCost || Number(match[3]) !== ARGON2_PARAMS.parallelism;
}

let dummyHash: Promise<string> | undefined;

/** Verifies against a fixed dummy hash so unknown accounts cost the same time as known ones. */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('bastion-dummy-password-for-timing-equalisation');
  await verifyPassword(await dummyHash, password);
}
