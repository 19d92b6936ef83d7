/** Table types of accounts: users, sessions, single-use tokens, recovery codes, sign-in history, linked SSO identities. */
import type { Generated } from 'kysely';
import type { AuthTokenKind, UserRole } from '../../../domain/accounts.js';

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  password_hash: string;
  password_changed_at: Generated<Date>;
  email_verified_at: Date | null;
  totp_secret: Buffer | null;
  totp_enabled_at: Date | null;
  totp_last_step: string | null; // bigint comes back as a string
  password_reset_required: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  erasure_requested_at: Generated<Date | null>;
  erasure_scheduled_at: Generated<Date | null>;
  /** Set by an administrator: sign-in and every credential of the account are refused (0020). */
  disabled_at: Generated<Date | null>;
  /** The workspace last chosen in the web app (PUT /me/workspace), opened at the next sign-in (0021). */
  last_workspace_id: Generated<string | null>;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  ip: string;
  user_agent: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export interface AuthTokensTable {
  id: string;
  user_id: string | null;
  kind: AuthTokenKind;
  token_hash: string;
  email: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  payload: unknown | null;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  used_at: Date | null;
}

export interface SignInsTable {
  id: string;
  user_id: string;
  at: Date;
  ip: string;
  network: string;
  device: string;
  hour: number;
  score: number;
  reasons: string[];
}

export interface UserIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: Date;
}
