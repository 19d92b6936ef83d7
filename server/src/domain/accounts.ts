/** Accounts: instance roles of users and the kinds of single-use tokens mailed or handed to them. */

/** Instance-wide role of a user (workspace roles are separate: see workspaces.ts). */
export const USER_ROLES = ['admin', 'member'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** What a single-use token (auth_tokens row) is for. */
export const AUTH_TOKEN_KINDS = ['verify_email', 'password_reset', 'mfa_login', 'not_me', 'invite', 'oidc_link', 'setup'] as const;
export type AuthTokenKind = (typeof AUTH_TOKEN_KINDS)[number];
