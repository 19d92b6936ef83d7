import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { HASHING_NICE_INCREMENT } from './password-pool.js';
import { assertPasswordAcceptable, hashPassword, needsRehash, verifyPassword } from './passwords.js';

const who = { email: 'ada.lovelace@example.org', name: 'Ada Lovelace', minLength: 15 };

function rule(password: string, context = who): string | undefined {
  try {
    assertPasswordAcceptable(password, context);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('weak_password');
    return (error as AppError).details?.[0]?.message;
  }
}

describe('password policy', () => {
  it('accepts long unrelated passphrases without composition rules [ASVS 6.2.5]', () => {
    expect(rule('correct horse battery staple')).toBeUndefined();
    expect(rule('violet tractor sings at dawn')).toBeUndefined();
    expect(rule('çà et là, sous les tilleuls verts')).toBeUndefined();
  });

  it('counts Unicode code points after NFKC and never truncates [ASVS 6.2.1, 6.2.8]', () => {
    expect(rule('🦄🦄🦄🦄🦄🦄🦄🦄🦄🦄🦄🦄🦄🦄', who)).toBe('too_short'); // 14 code points
    expect(rule('x'.repeat(1_025))).toBe('too_long');
  });

  it.each([
    ['too_short', 'Tr0ub4dor&3'],
    ['common', 'passwordpassword'],
    ['common', '123456789987654321'],
    ['personal', 'ada.lovelace tractor dawn 42'],
    ['personal', 'lovelace violet tractor sings'],
    ['guessable', 'aaaaaaaaaaaaaaaaaaaa'],
    ['guessable', 'qwertyuiopasdfghjkl'],
  ])('refuses %s: %s [ASVS 6.2.1, 6.2.4, 6.2.12]', (expected, password) => {
    expect(rule(password)).toBe(expected);
  });

  it('honours a lower configured minimum, never below what the config allows', () => {
    expect(rule('violet tractor', { ...who, minLength: 8 })).toBeUndefined();
    expect(rule('letmein!', { ...who, minLength: 8 })).toBe('common');
  });
});

describe('password hashing', () => {
  it('hashes with argon2id at the configured parameters and verifies NFKC-equivalent input [ASVS 11.4.2]', async () => {
    const stored = await hashPassword('ﬁne violet tractor at dawn'); // "ﬁ" ligature
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(needsRehash(stored)).toBe(false);
    expect(await verifyPassword(stored, 'fine violet tractor at dawn')).toBe(true);
    expect(await verifyPassword(stored, 'fine violet tractor at dusk')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
    expect(needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g')).toBe(true);
  });

  it.runIf(process.platform === 'linux')('hashes in threads below the event loop’s priority, never on the calling thread', async () => {
    /** The nice value of each thread of this process (field 19 of /proc/self/task/<tid>/stat). */
    const niceOfThreads = () => fs.readdirSync('/proc/self/task').map((tid) => Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    const mine = os.getPriority(0);
    const started = performance.now();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const stored = await Promise.all(Array.from({ length: 4 }, (_, i) => hashPassword(`violet tractor ${i} sings at dawn`)));
    clearInterval(ticker);
    expect(stored.every((h) => h.startsWith('$argon2id$'))).toBe(true);
    // Linux caps nice at 19 (a test run under `nice` starts higher).
    expect(niceOfThreads()).toContain(Math.min(19, mine + HASHING_NICE_INCREMENT));
    // The event loop kept turning while four hashes ran (they run elsewhere).
    expect(ticks).toBeGreaterThan((performance.now() - started) / 10);
  });
});
