/** What the account services need; app.ts builds it once. */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import { generateToken, hashToken } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { AuthTokenKind } from '../../domain/accounts.js';
import type { Mailer, MailMessage } from '../../platform/mail/mailer.js';
import type { Store } from '../../platform/store/store.js';
import type { SecurityEventInput as SecurityEvent } from '../security-events/types.js';
import { recordSecurityEvent, type SecurityEventSink } from '../security-events/service.js';
import type { SessionService } from '../sessions/service.js';
import type { UserService } from '../users/service.js';
import type { RequireMfa } from './mfa-gate.js';
import type { LoginThrottle } from './throttle.js';
import { consumeToken, findUsableToken, insertAuthToken, invalidateTokens, type AuthTokenRow } from './tokens-repo.js';

export interface AuthSettings {
  publicUrl: string;
  registration: 'open' | 'invite' | 'closed';
  requireEmailVerification: boolean;
  requireMfa: RequireMfa;
  passwordMinLength: number;
  lockoutMinutes: number;
}

/** Revokes every credential of one kind a user holds (ApiKeyService, TokenService). */
export interface CredentialRevoker {
  revokeAllFor(userId: string): Promise<void>;
}

/** API keys are also cached by each instance (ApiKeyService). */
export interface ApiKeyRevoker extends CredentialRevoker {
  /** Drops these keys (by hash) from every instance's cache: their rows are gone (erasure). */
  evict(keyHashes: string[]): Promise<void>;
}

export interface AuthDeps {
  db: Db;
  store: Store;
  clock: Clock;
  mailer: Mailer;
  encryptor: Encryptor;
  logger: Logger;
  sessions: SessionService;
  /** Accounts: read and change users only through it. */
  users: UserService;
  /** API keys and refresh tokens: revoked through their owners on evidence of compromise. */
  apiKeys: ApiKeyRevoker;
  tokens: CredentialRevoker;
  throttle: LoginThrottle;
  settings: AuthSettings;
  /** Told of each failed sign-in step, by factor only (metrics). */
  onSignInFailure?: (factor: SignInFactor) => void;
  /** The security-event stream (stored, logged, watched by the monitor). */
  securityEvents?: SecurityEventSink;
  /** Workspace invitations, so people can register through one (set by the workspaces plugin). */
  invitations?: InvitationLookup;
}

/** The address a usable workspace invitation token was sent to (WorkspaceService). */
export interface InvitationLookup {
  addressee(token: string): Promise<string | undefined>;
}

export type SignInFactor = 'password' | 'second_factor';

const TOKEN_PREFIX: Record<AuthTokenKind, string> = {
  verify_email: 'verify',
  password_reset: 'reset',
  mfa_login: 'mfa',
  not_me: 'notme',
  invite: 'invite',
  oidc_link: 'link',
  setup: 'setup',
};

/** Issues a single-use token (only its hash is stored), optionally replacing older ones. */
export async function issueToken(deps: AuthDeps, kind: AuthTokenKind, target: { userId: string | null; email?: string }, ttlMs: number, options: { replace?: boolean; payload?: unknown } = {}): Promise<string> {
  const now = deps.clock.now();
  if (options.replace && target.userId) await invalidateTokens(deps.db, target.userId, kind, now);
  const { token, hash } = generateToken(TOKEN_PREFIX[kind]);
  await insertAuthToken(deps.db, {
    id: randomUUID(),
    user_id: target.userId,
    kind,
    token_hash: hash,
    email: target.email ?? null,
    created_at: now,
    expires_at: new Date(now.getTime() + ttlMs),
    payload: options.payload === undefined ? null : JSON.stringify(options.payload),
  });
  return token;
}

export function findToken(deps: AuthDeps, kind: AuthTokenKind, token: string): Promise<AuthTokenRow | undefined> {
  if (token.length > 200) return Promise.resolve(undefined);
  return findUsableToken(deps.db, kind, hashToken(token), deps.clock.now());
}

/** Spends a token found by `findToken`; false when someone used it first (single use under concurrency). */
export function spendToken(deps: Pick<AuthDeps, 'db' | 'clock'>, id: string): Promise<boolean> {
  return consumeToken(deps.db, id, deps.clock.now());
}

/** A link into the web app; tokens travel in the fragment, so they never reach logs or Referer. */
export function appLink(deps: AuthDeps, page: string, params: Record<string, string>): string {
  return `${deps.settings.publicUrl}/${page}#${new URLSearchParams(params).toString()}`;
}

/** Sends without making the caller wait or fail: answers must not depend on mail delivery. */
export function sendInBackground(deps: AuthDeps, message: MailMessage): void {
  deps.mailer.send(message).catch((error: unknown) => deps.logger.error({ err: error, subject: message.subject }, 'mail delivery failed'));
}

export async function securityEvent(deps: Pick<AuthDeps, 'db' | 'clock' | 'logger' | 'securityEvents'>, event: SecurityEvent): Promise<void> {
  if (deps.securityEvents) return deps.securityEvents.record(event);
  deps.logger.info({ securityEvent: event.type, userId: event.userId, ip: event.ip }, 'security event');
  await recordSecurityEvent(deps.db, event, deps.clock.now());
}

/**
 * On evidence of compromise (password reset, "this wasn't me"): revoke the user's API keys
 * and refresh tokens as well as their sessions, so nothing minted by an intruder survives.
 */
export async function revokeMachineCredentials(deps: Pick<AuthDeps, 'apiKeys' | 'tokens'>, userId: string): Promise<void> {
  await deps.apiKeys.revokeAllFor(userId);
  await deps.tokens.revokeAllFor(userId);
}
