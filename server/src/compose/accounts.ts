/**
 * The accounts plugin: who is calling. Sessions, users, API keys and access tokens; the
 * authentication → principal limits → caller → consent gate hooks, in that order; the
 * audit log every service writes to; and the sign-in, account, key and token routes.
 */
import fp from 'fastify-plugin';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { authentication } from '../http/authenticate.js';
import { principalLimits } from '../http/hardening.js';
import { AppError } from '../errors.js';
import { ApiKeyService } from '../modules/api-keys/service.js';
import { apiKeyRoutes } from '../modules/api-keys/routes.js';
import { AuditKeys } from '../modules/audit/keys.js';
import { auditActor } from '../modules/audit/request.js';
import { AuditLog } from '../modules/audit/service.js';
import { caller } from '../modules/auth/caller.js';
import type { AuthDeps } from '../modules/auth/deps.js';
import { warmPasswordPool } from '../modules/auth/password-pool.js';
import { authRoutes } from '../modules/auth/routes.js';
import { issueSetupLink } from '../modules/auth/setup.js';
import { LoginThrottle } from '../modules/auth/throttle.js';
import { registerPrivacyGate } from '../modules/privacy/module.js';
import type { PolicyService } from '../modules/privacy/policies.js';
import { watchSessionRevocations } from '../modules/security-events/observers.js';
import { SessionService } from '../modules/sessions/service.js';
import { jwksRoute, tokenRoutes } from '../modules/tokens/routes.js';
import { TokenService } from '../modules/tokens/service.js';
import { SigningKeys } from '../modules/tokens/signing-keys.js';
import { adminUserRoutes } from '../modules/users/admin-routes.js';
import { AdminUserService } from '../modules/users/admin-service.js';
import { UserService } from '../modules/users/service.js';
import { ACCEPTED_TYPES } from '../platform/documents/detect.js';
import { originOf } from '../modules/security-events/origin.js';

/**
 * Sign-in limits besides the per-account lockout (LOCKOUT_THRESHOLD, LOCKOUT_MINUTES):
 * failed sign-ins per address, and per address and account, in one window.
 */
export const SIGN_IN_FAILURE_LIMITS = { perIp: 100, perIpAccount: 20, windowMs: 15 * 60_000 } as const;

export interface Accounts {
  /** What the account modules share (auth, admin users, privacy, security events, SSO). */
  authDeps: AuthDeps;
  sessions: SessionService;
  users: UserService;
  apiKeys: ApiKeyService;
  tokens: TokenService;
  audit: AuditLog;
  /** The policies in force; the consent gate refuses until they are accepted. */
  policies: PolicyService;
}

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts;
  }
}

export const accounts = fp(
  async (app: App) => {
    const { config, db, store, clock, logger, metrics, securityEvents, cookie } = app.core;
    const sessions = new SessionService(
      db,
      store,
      clock,
      {
        idleMs: config.SESSION_IDLE_TIMEOUT_MINUTES * 60_000,
        absoluteMs: config.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3_600_000,
      },
      app.core.cacheStats,
    );
    app.addHook('onClose', () => sessions.close());
    // Memory store: access tokens of sessions ended before a restart stay refused (not fatal: the database may be starting).
    await sessions.restoreRevocations().catch((error: unknown) => logger.warn({ err: error }, 'could not restore session revocations'));
    watchSessionRevocations(sessions, securityEvents);
    // Gate state (role, TOTP, disabled) cached per user, invalidated across instances on the store.
    const users = new UserService(db, { store, stats: app.core.cacheStats, now: () => clock.now().getTime() });
    app.addHook('onClose', () => users.close());
    // Services write the audit entry of a change in the change's own transaction.
    const audit = new AuditLog(db, new AuditKeys(db, app.core.encryptor, clock), clock, logger, {
      checkpointEvery: config.AUDIT_CHECKPOINT_EVERY,
      checkpointIntervalMs: config.AUDIT_CHECKPOINT_MINUTES * 60_000,
    });
    let stopCheckpoints = (): void => undefined;
    app.addHook('onReady', async () => void (stopCheckpoints = audit.startSchedule()));
    app.addHook('onClose', async () => stopCheckpoints());
    const apiKeys = new ApiKeyService(db, clock, store, securityEvents, audit, app.core.cacheStats);
    app.addHook('onClose', () => apiKeys.close());
    const signingKeys = new SigningKeys(db, app.core.encryptor, clock, config.JWT_ACCESS_TTL_SECONDS * 1000);
    const tokens = new TokenService(
      db,
      store,
      clock,
      signingKeys,
      { sessions, apiKeys, users },
      {
        issuer: config.PUBLIC_URL,
        audience: `${config.PUBLIC_URL}/api`,
        accessTtlSeconds: config.JWT_ACCESS_TTL_SECONDS,
        refreshTtlMs: config.REFRESH_TOKEN_TTL_DAYS * 24 * 3_600_000,
      },
      { db, clock, logger, securityEvents },
    );

    await app.register(authentication, {
      sessions,
      cookie,
      allowedOrigins: new Set([new URL(config.PUBLIC_URL).origin, ...config.CORS_ORIGINS.filter((o) => o !== '*')]),
      bearer: async (credential, ip, request) => {
        if (credential.startsWith('bst_key_')) return apiKeys.authenticate(credential, ip, originOf(request));
        if (credential.split('.').length === 3) return tokens.verify(credential, ip);
        throw new AppError('unauthenticated', 'Invalid, expired or revoked credentials.');
      },
      onFailure: (kind) => metrics.authFailures.inc({ kind }),
    });
    await app.register(principalLimits, app.core.hardening);
    // Who is calling, once per request; refuses (mfa_enrollment_required) a caller who must enrol TOTP first.
    await app.register(caller, { users, requireMfa: config.REQUIRE_MFA });
    await app.register(auditActor);
    // After the principal is known, before any route it guards: 403 consent_required until the policies in force are accepted.
    const policies = registerPrivacyGate(app, { db, clock });

    const authDeps: AuthDeps = {
      db,
      store,
      clock,
      mailer: app.core.mailer,
      encryptor: app.core.encryptor,
      logger,
      sessions,
      users,
      apiKeys,
      tokens,
      throttle: new LoginThrottle(store, clock, { threshold: config.LOCKOUT_THRESHOLD, lockMs: config.LOCKOUT_MINUTES * 60_000, ...SIGN_IN_FAILURE_LIMITS }),
      settings: {
        publicUrl: config.PUBLIC_URL,
        registration: config.REGISTRATION,
        requireEmailVerification: config.REQUIRE_EMAIL_VERIFICATION,
        requireMfa: config.REQUIRE_MFA,
        passwordMinLength: config.PASSWORD_MIN_LENGTH,
        lockoutMinutes: config.LOCKOUT_MINUTES,
      },
      onSignInFailure: (factor) => metrics.authFailures.inc({ kind: factor }),
      securityEvents,
    };
    const ssoEnabled = Boolean(config.OIDC_ISSUER && config.OIDC_CLIENT_ID && config.OIDC_CLIENT_SECRET);
    const uploads = { maxBytes: config.UPLOAD_MAX_BYTES, maxBytesSetting: 'UPLOAD_MAX_BYTES', types: ACCEPTED_TYPES.map((type) => ({ ...type })) };
    await app.register(authRoutes(authDeps, cookie, { ssoEnabled, uploads }), { prefix: API_PREFIX });
    await app.register(adminUserRoutes(new AdminUserService(authDeps, audit)), { prefix: API_PREFIX });
    // The first sign-in should not wait for a hashing thread to start.
    app.addHook('onListen', async () => void warmPasswordPool().catch((error: unknown) => logger.warn({ err: error }, 'could not start the password hashing thread')));
    // First run: once the server listens, log the one-time setup link while no administrator exists.
    app.addHook('onListen', async () => {
      const link = await issueSetupLink(authDeps).catch((error: unknown) => logger.error({ err: error }, 'could not issue the setup link'));
      if (link) logger.warn(`Set up Bastion: no administrator exists yet. Open ${link} to create the first one (single use, valid 24 hours; a restart issues a new link).`);
    });
    await app.register(apiKeyRoutes(apiKeys), { prefix: API_PREFIX });
    await app.register(tokenRoutes(tokens), { prefix: API_PREFIX });
    await app.register(jwksRoute(signingKeys));

    app.decorate('accounts', { authDeps, sessions, users, apiKeys, tokens, audit, policies });
  },
  { name: 'bastion-accounts', fastify: '5.x', dependencies: ['bastion-core'] },
);
