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
