/** The `Accounts` group. Registration, passwords, MFA, sessions, lockout and token lifetimes. */
import { z } from 'zod';
import { int, type Variable } from '../variable.js';

export const accountsVariables = {
  REGISTRATION: {
    group: 'Accounts',
    schema: z.enum(['open', 'invite', 'closed']).default('invite'),
    doc: '`open`: anyone may register; `invite`: only with an invitation from an admin (`bastion users invite`); `closed`: admins create accounts.',
  },
  REQUIRE_EMAIL_VERIFICATION: {
    group: 'Accounts',
    schema: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    doc: 'Refuse sign-in until the email address is verified.',
  },
  REQUIRE_MFA: {
    group: 'Accounts',
    schema: z.enum(['none', 'admins', 'all']).default('admins'),
    doc: 'Who must enrol TOTP two-factor authentication before using Bastion.',
  },
  PASSWORD_MIN_LENGTH: {
    group: 'Accounts',
    schema: int(8, 64, 15),
    doc: 'Minimum password length in characters (NIST SP 800-63B-4: 15 for password-only accounts; never below 8).',
  },
  SESSION_IDLE_TIMEOUT_MINUTES: {
    group: 'Accounts',
    schema: int(1, 7 * 24 * 60, 30),
    doc: 'A session unused for this long ends.',
  },
  SESSION_ABSOLUTE_TIMEOUT_HOURS: {
    group: 'Accounts',
    schema: int(1, 30 * 24, 12),
    doc: 'A session ends this long after sign-in, however active.',
  },
  LOCKOUT_THRESHOLD: {
    group: 'Accounts',
    schema: int(3, 100, 5),
    doc: 'Failed sign-ins (passwords or codes) on one account before it is locked temporarily.',
  },
  LOCKOUT_MINUTES: {
    group: 'Accounts',
    schema: int(1, 24 * 60, 15),
    doc: 'First lock duration; each further lock within 24 h doubles it (capped at 24 h).',
  },
  JWT_ACCESS_TTL_SECONDS: {
    group: 'Accounts',
    schema: int(60, 3_600, 600),
    doc: 'Lifetime of JWT access tokens (POST /api/v1/auth/token).',
  },
  REFRESH_TOKEN_TTL_DAYS: {
    group: 'Accounts',
    schema: int(1, 365, 30),
    doc: 'Lifetime of refresh tokens; each use replaces the token.',
  },
} satisfies Record<string, Variable>;
