/** /api/v1/auth/* and /api/v1/me: schemas and handlers; the rules live in the services. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clearSessionCookie, requireSession, setSessionCookie, type CookiePolicy } from '../../http/authenticate.js';
import { AppError } from '../../errors.js';
import type { UserRow } from '../users/service.js';
import type { RequestContext } from '../sessions/service.js';
import type { AuthDeps } from './deps.js';
import { mfaEnrollmentRequired } from './mfa-gate.js';
import { gateStateOf } from '../users/gate-state.js';
import { confirmTotp, countUnusedRecoveryCodes, disableTotpFor, regenerateRecoveryCodes, setupTotp } from './mfa-service.js';
import { checkPassword, PASSWORD_MAX_LENGTH } from './passwords.js';
import { changePassword, requestPasswordReset, resetPassword } from './password-service.js';
import { completeSetup, setupRequired } from './setup.js';
import { disownSignIn, register, signIn, signInWithCode, verifyEmail, type SignInResult } from './service.js';
import { USER_ROLES } from '../../domain/accounts.js';
import { POLICY_KINDS } from '../../domain/privacy.js';
import { originOf } from '../security-events/origin.js';

const Email = z.string().trim().min(3).max(254).email().describe('Email address');
const Password = z
  .string()
  .min(1)
  .max(PASSWORD_MAX_LENGTH * 4)
  .describe('Password (NFKC-normalised; at least PASSWORD_MIN_LENGTH characters)');
const Token = z.string().min(10).max(200).describe('Single-use token from a mailed link');
const Code = z.string().trim().min(6).max(24).describe('6-digit TOTP code or a recovery code (XXXX-XXXX-XXXX-XXXX)');
const Ok = z.object({ ok: z.literal(true) });
const Accepted = z.object({ status: z.string().describe('What happens next') });

const Me = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role: z.enum(USER_ROLES),
  emailVerified: z.boolean(),
  mfaEnabled: z.boolean(),
  mfaEnrollmentRequired: z.boolean().describe('REQUIRE_MFA applies and TOTP is not enrolled: only MFA setup, /me and sign-out work'),
  recoveryCodesLeft: z.number().int(),
  erasureScheduledAt: z.string().nullable().describe('When the account will be erased (DELETE /me); null when no deletion is pending'),
});

const SessionView = z.object({
  id: z.uuid(),
  current: z.boolean(),
  userAgent: z.string(),
  ip: z.string(),
  createdAt: z.string(),
  lastSeenAt: z.string(),
});

const SignInResponse = z.union([z.object({ mfaRequired: z.literal(false), user: Me }), z.object({ mfaRequired: z.literal(true), mfaToken: z.string().describe('Send with a code to POST /auth/login/mfa within 5 minutes') })]);

function context(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : '', requestId: request.id };
}

async function meView(deps: AuthDeps, user: UserRow): Promise<z.infer<typeof Me>> {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    emailVerified: user.email_verified_at !== null,
    mfaEnabled: user.totp_enabled_at !== null,
    mfaEnrollmentRequired: mfaEnrollmentRequired(deps.settings.requireMfa, gateStateOf(user)),
    recoveryCodesLeft: user.totp_enabled_at ? await countUnusedRecoveryCodes(deps.db, user.id) : 0,
    erasureScheduledAt: user.erasure_scheduled_at?.toISOString() ?? null,
  };
}

async function answerSignIn(deps: AuthDeps, cookie: CookiePolicy, reply: FastifyReply, result: SignInResult) {
  if (result.kind === 'mfa') return { mfaRequired: true as const, mfaToken: result.mfaToken };
  setSessionCookie(reply, cookie, result.token);
  return { mfaRequired: false as const, user: await meView(deps, result.user) };
}

/** Replaces the caller's session with a new one (privilege change: ASVS 7.2.4). */
async function rotateSession(deps: AuthDeps, cookie: CookiePolicy, request: FastifyRequest, reply: FastifyReply, user: UserRow, reason: string) {
  const session = requireSession(request);
  await deps.sessions.revoke(user.id, session.id, reason, originOf(request));
  const { token, state } = await deps.sessions.create(user.id, context(request));
  setSessionCookie(reply, cookie, token);
  request.session = state;
}

const PasswordVerdictView = z.object({
  ok: z.boolean().describe('True when the password meets every rule'),
  rule: z.enum(['too_short', 'too_long', 'common', 'guessable', 'personal']).optional().describe('The first rule broken'),
  message: z.string().optional().describe('What is wrong and how to fix it'),
  score: z.number().int().min(0).max(4).describe('Strength 0–4 (zxcvbn), at most 2 when a rule is broken'),
});

/** What the sign-in page needs to know before anyone signs in. */
export interface AuthPageOptions {
  /** An instance-wide OpenID Connect provider is configured (GET /auth/oidc/start works). */
  ssoEnabled?: boolean;
  /** What documents may be uploaded, so the web app can refuse a file before sending it. */
  uploads?: UploadOptions;
}

const UploadOptionsView = z
  .object({
    maxBytes: z.number().int().describe('Largest document accepted, in bytes'),
    maxBytesSetting: z.string().describe('The server setting that sets maxBytes (UPLOAD_MAX_BYTES)'),
    types: z
      .array(z.object({ kind: z.string(), extensions: z.array(z.string()).describe('Without the dot, lower case'), mimeTypes: z.array(z.string()).describe('Declared types accepted with these extensions (none declared is accepted too)') }))
      .describe('Accepted file types; the server still checks each file from its content'),
  })
  .describe('Document uploads to knowledge bases: checked again by the server, which is the control');
export type UploadOptions = z.infer<typeof UploadOptionsView>;

export function authRoutes(deps: AuthDeps, cookie: CookiePolicy, pageOptions: AuthPageOptions = {}): FastifyPluginAsyncZod {
  return async (app) => {
    const noStore = (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      reply.header('cache-control', 'no-store'); // ASVS 14.3.2: sensitive responses are not cached
      done();
    };
    app.addHook('onRequest', noStore);
    const tags = ['auth'];

    app.post(
      '/auth/register',
      {
        config: { rateLimit: 'auth', access: 'public' },
        schema: {
          tags,
          summary: 'Create an account',
          body: z.strictObject({
            email: Email,
            password: Password,
            name: z.string().trim().min(1).max(100),
            inviteToken: Token.optional(),
            acceptedPolicies: z
              .array(z.strictObject({ kind: z.enum(POLICY_KINDS), version: z.number().int().positive() }))
              .max(2)
              .optional()
              .describe('Policy versions in force that the person accepts (required once published; see modules/privacy)'),
          }),
          response: { 202: z.object({ status: z.enum(['check_your_email', 'registered']).describe('registered: an invitation proved the address, sign in now; check_your_email: follow the mailed link') }) },
        },
      },
      async (request, reply) => reply.status(202).send({ status: await register(deps, request.body) }),
    );

    app.get(
      '/auth/options',
      {
        config: { rateLimit: 'auth', access: 'public' },
        schema: {
          tags,
          summary: 'How people can sign in here (for the sign-in page)',
          response: {
            200: z.object({
              registration: z.enum(['open', 'invite', 'closed']),
              sso: z.boolean().describe('Single sign-on through GET /auth/oidc/start'),
              passwordMinLength: z.number().int(),
              setupRequired: z.boolean().describe('No administrator exists yet: the server log holds a one-time link to /setup'),
              uploads: UploadOptionsView.optional(),
            }),
          },
        },
      },
      async () => ({
        registration: deps.settings.registration,
        sso: pageOptions.ssoEnabled === true,
        passwordMinLength: deps.settings.passwordMinLength,
        setupRequired: await setupRequired(deps),
        ...(pageOptions.uploads ? { uploads: pageOptions.uploads } : {}),
      }),
    );

    app.post(
      '/auth/setup',
      {
        config: { rateLimit: 'auth', access: 'public' },
        schema: {
          tags,
          summary: 'Create the first administrator with the one-time link from the server log, and sign in',
          body: z.strictObject({ token: Token.describe('The token of the setup link (/setup#token=…)'), email: Email, name: z.string().trim().min(1).max(100), password: Password }),
          response: { 200: SignInResponse },
        },
      },
      async (request, reply) => answerSignIn(deps, cookie, reply, await completeSetup(deps, request.body, context(request))),
    );

    // The same rules as registration and resets, for a live strength meter (the client never ships zxcvbn's dictionaries).
    app.post(
      '/auth/password/check',
      {
        config: { rateLimit: 'password-check', access: 'public', lowStorage: 'allow' },
        schema: {
          tags,
          summary: 'Judge a candidate password by the server’s rules; stores and logs nothing',
          body: z.strictObject({
            password: z.string().min(1).max(PASSWORD_MAX_LENGTH).describe('Candidate password'),
            email: z.string().trim().max(254).optional().describe('Email it must not contain (ignored when signed in: the account’s is used)'),
            name: z.string().trim().max(100).optional().describe('Name it must not contain (ignored when signed in)'),
          }),
          response: { 200: PasswordVerdictView },
        },
      },
      async (request) => {
        const user = request.principal ? await deps.users.byId(request.principal.userId) : undefined;
        const verdict = checkPassword(request.body.password, {
          email: user?.email ?? request.body.email ?? '',
          name: user?.name ?? request.body.name ?? '',
          minLength: deps.settings.passwordMinLength,
        });
        return verdict.ok ? { ok: true, score: verdict.score } : verdict;
      },
    );

    app.post('/auth/verify-email', { config: { rateLimit: 'auth', access: 'public' }, schema: { tags, summary: 'Confirm an email address', body: z.strictObject({ token: Token }), response: { 200: Ok } } }, async (request) => {
      await verifyEmail(deps, request.body.token);
      return { ok: true as const };
    });

    app.post(
      '/auth/login',
      { config: { rateLimit: 'auth', access: 'public', lowStorage: 'allow' }, schema: { tags, summary: 'Sign in with email and password', body: z.strictObject({ email: Email, password: Password }), response: { 200: SignInResponse } } },
      async (request, reply) => answerSignIn(deps, cookie, reply, await signIn(deps, request.body, context(request))),
    );

    app.post(
      '/auth/login/mfa',
      { config: { rateLimit: 'auth', access: 'public', lowStorage: 'allow' }, schema: { tags, summary: 'Second step of sign-in', body: z.strictObject({ mfaToken: Token, code: Code }), response: { 200: SignInResponse } } },
      async (request, reply) => answerSignIn(deps, cookie, reply, await signInWithCode(deps, request.body, context(request))),
    );

    app.post('/auth/logout', { config: { access: { session: true }, lowStorage: 'allow' }, schema: { tags, summary: 'End this session', response: { 200: Ok } } }, async (request, reply) => {
      const session = requireSession(request);
      await deps.sessions.revoke(session.userId, session.id, 'logout', originOf(request));
      clearSessionCookie(reply, cookie);
      return { ok: true as const };
    });

    app.post(
      '/auth/logout-all',
      { config: { access: { session: true }, lowStorage: 'allow' }, schema: { tags, summary: 'End every session of this account, this one included', response: { 200: z.object({ ended: z.number().int() }) } } },
      async (request, reply) => {
        const session = requireSession(request);
        const ended = await deps.sessions.revokeAll(session.userId, 'logout_all', undefined, originOf(request));
        clearSessionCookie(reply, cookie);
        return { ended };
      },
    );

    app.get('/auth/sessions', { config: { access: { session: true } }, schema: { tags, summary: 'List active sessions', response: { 200: z.object({ sessions: z.array(SessionView) }) } } }, async (request) => {
      const user = await request.callerUser();
      const rows = await deps.sessions.list(user.id);
      return {
        sessions: rows.map((row) => ({
          id: row.id,
          current: row.id === request.session?.id,
          userAgent: row.user_agent,
          ip: row.ip,
          createdAt: row.created_at.toISOString(),
          lastSeenAt: row.last_seen_at.toISOString(),
        })),
      };
    });

    app.delete('/auth/sessions/:id', { config: { access: { session: true }, lowStorage: 'allow' }, schema: { tags, summary: 'End one session', params: z.object({ id: z.uuid() }), response: { 200: Ok } } }, async (request, reply) => {
      const user = await request.callerUser();
      if (!(await deps.sessions.revoke(user.id, request.params.id, 'revoked_by_user', originOf(request)))) throw new AppError('not_found', 'No such session.');
      if (request.params.id === request.session?.id) clearSessionCookie(reply, cookie);
      return { ok: true as const };
    });

    app.post(
      '/auth/password/forgot',
      { config: { rateLimit: 'auth', access: 'public' }, schema: { tags, summary: 'Mail a password reset link', body: z.strictObject({ email: Email }), response: { 202: Accepted } } },
      async (request, reply) => {
        await requestPasswordReset(deps, request.body.email, context(request));
        return reply.status(202).send({ status: 'sent_if_registered' });
      },
    );

    app.post(
      '/auth/password/reset',
      { config: { rateLimit: 'auth', access: 'public' }, schema: { tags, summary: 'Set a new password with a reset token', body: z.strictObject({ token: Token, password: Password }), response: { 200: Ok } } },
      async (request, reply) => {
        await resetPassword(deps, request.body, context(request));
        clearSessionCookie(reply, cookie);
        return { ok: true as const };
      },
    );

    app.post(
      '/auth/password/change',
      { config: { access: { session: true } }, schema: { tags, summary: 'Change the password; other sessions end', body: z.strictObject({ currentPassword: Password, newPassword: Password }), response: { 200: Ok } } },
      async (request, reply) => {
        const user = await request.callerUser();
        await changePassword(deps, user, request.body, { ...context(request), sessionId: requireSession(request).id });
        await rotateSession(deps, cookie, request, reply, user, 'password_changed');
        return { ok: true as const };
      },
    );

    app.post(
      '/auth/not-me',
      { config: { rateLimit: 'auth', access: 'public', lowStorage: 'allow' }, schema: { tags, summary: 'Disown a sign-in: end all sessions and require a new password', body: z.strictObject({ token: Token }), response: { 200: Ok } } },
      async (request, reply) => {
        await disownSignIn(deps, request.body.token, context(request));
        clearSessionCookie(reply, cookie);
        return { ok: true as const };
      },
    );

    app.post(
      '/auth/mfa/totp/setup',
      { config: { access: { session: true } }, schema: { tags, summary: 'Start TOTP enrolment', response: { 200: z.object({ otpauthUri: z.string(), qrSvg: z.string().describe('data: URL of an SVG QR code'), secret: z.string() }) } } },
      async (request) => setupTotp(deps, await request.callerUser()),
    );

    app.post(
      '/auth/mfa/totp/confirm',
      { config: { access: { session: true } }, schema: { tags, summary: 'Confirm TOTP enrolment; returns recovery codes once', body: z.strictObject({ code: Code }), response: { 200: z.object({ recoveryCodes: z.array(z.string()) }) } } },
      async (request, reply) => {
        const user = await request.callerUser();
        const recoveryCodes = await confirmTotp(deps, user, request.body.code, originOf(request));
        await rotateSession(deps, cookie, request, reply, user, 'mfa_enabled');
        return { recoveryCodes };
      },
    );

    app.post(
      '/auth/mfa/totp/disable',
      { config: { access: { session: true } }, schema: { tags, summary: 'Disable TOTP (password and code)', body: z.strictObject({ password: Password, code: Code }), response: { 200: Ok } } },
      async (request) => {
        await disableTotpFor(deps, await request.callerUser(), request.body, request.ip, originOf(request));
        return { ok: true as const };
      },
    );

    app.post(
      '/auth/mfa/recovery-codes',
      { config: { access: { session: true } }, schema: { tags, summary: 'Replace the recovery codes (needs a TOTP code)', body: z.strictObject({ code: Code }), response: { 200: z.object({ recoveryCodes: z.array(z.string()) }) } } },
      async (request) => ({
        recoveryCodes: await regenerateRecoveryCodes(deps, await request.callerUser(), request.body.code, request.ip, originOf(request)),
      }),
    );

    app.get('/auth/csrf', { config: { access: { session: true } }, schema: { tags, summary: 'The CSRF token of this session (send it as X-CSRF-Token)', response: { 200: z.object({ token: z.string() }) } } }, async (request) => ({
      token: requireSession(request).csrfToken,
    }));

    app.get('/me', { config: { access: { scope: 'profile:read' } }, schema: { tags: ['users'], summary: 'The signed-in user', response: { 200: Me } } }, async (request) => meView(deps, await request.callerUser()));
  };
}
