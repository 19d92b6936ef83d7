/** Shapes of the account API's answers (server/src/modules/auth/routes.ts). */
export interface Me {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'member';
  emailVerified: boolean;
  mfaEnabled: boolean;
  mfaEnrollmentRequired: boolean;
  recoveryCodesLeft: number;
  /** When a requested account deletion happens; null when none is pending. */
  erasureScheduledAt?: string | null;
}

/** A privacy policy or terms version (modules/privacy). */
export interface Policy {
  kind: 'privacy' | 'terms';
  version: number;
  sha256: string;
  text: string;
  publishedAt: string;
}

export type SignInResponse = { mfaRequired: false; user: Me } | { mfaRequired: true; mfaToken: string };

export interface Workspace {
  id: string;
  name: string;
  personal: boolean;
  role: string;
  monthlyTokenBudget: number | null;
  createdAt: string;
}

export interface AuthOptions {
  registration: 'open' | 'invite' | 'closed';
  sso: boolean;
  passwordMinLength: number;
}

export type PasswordRule = 'too_short' | 'too_long' | 'common' | 'guessable' | 'personal';

export interface PasswordVerdict {
  ok: boolean;
  rule?: PasswordRule;
  message?: string;
  score: number;
}
