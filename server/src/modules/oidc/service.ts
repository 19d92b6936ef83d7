/**
 * OpenID Connect single sign-on (openid-client): authorization code flow with PKCE (S256),
 * `state` and `nonce` bound to the browser by a short-lived cookie, exact redirect URI,
 * `iss` checked (RFC 9207), ID token validated by openid-client. Users are keyed by
 * issuer + subject. An existing account is linked only when the provider says the email
 * is verified AND the owner confirms by mail; accounts are created just in time only when
 * configured. The session is the same kind as a password sign-in.
 *
 * Providers come from the environment (instance-wide) or from a workspace's own
 * settings (workspace-sso.ts): the flow remembers which one it started with. Workspace
 * providers never create accounts (their issuer is chosen by a workspace admin, not the
 * operator); they sign in linked identities and, when enabled, add the person to the
 * workspace. Their discovery and token calls go through the SSRF-guarded client.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { AppError } from '../../errors.js';
import { appLink, findToken, issueToken, securityEvent, sendInBackground, spendToken, type AuthDeps } from '../auth/deps.js';
import { hashPassword } from '../auth/passwords.js';
import { completeSignIn, type SignInResult } from '../auth/service.js';
import type { RequestContext } from '../sessions/service.js';
import { normalizeEmail } from '../users/email.js';
import { findIdentityUser, insertIdentity, insertIdentityIfAbsent } from './repo.js';
import { originOfContext, type EventOrigin } from '../security-events/origin.js';

export interface OidcProviderSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Instance provider: create accounts at first sign-in. Workspace provider: add the person to the workspace. */
  jitProvisioning: boolean;
  /** Set for a workspace's provider. */
  workspace?: { id: string; defaultRole: 'member' | 'viewer' };
}

export interface OidcOptions {
  redirectUri: string;
  /** The instance-wide provider (OIDC_* variables), if configured. */
  instance: OidcProviderSettings | null;
  /** A workspace's provider, if it configured one. */
  workspaceProvider: (workspaceId: string) => Promise<OidcProviderSettings | null>;
  /** Adds a member to a workspace (no-op when already one). */
  addMember: (workspaceId: string, userId: string, role: 'member' | 'viewer') => Promise<void>;
  /** fetch for workspace providers (SSRF-guarded). */
  guardedFetch: client.CustomFetch;
}

interface Flow {
  verifier: string;
  nonce: string;
  browser: string; // SHA-256 of the binding cookie
  workspaceId: string | null;
}

const MAX_CONFIGURATIONS = 1_000;

const FLOW_TTL_MS = 10 * 60 * 1000;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const failed = (why: string) => new AppError('invalid_token', `Single sign-on failed: ${why}. Start again.`);

export class OidcService {
  /** Discovered configurations by provider settings (a changed secret discovers anew). */
  private readonly configs = new Map<string, Promise<client.Configuration>>();

  constructor(
    private readonly deps: AuthDeps,
    private readonly options: OidcOptions,
  ) {}

  private async settingsFor(workspaceId: string | null): Promise<OidcProviderSettings> {
    const settings = workspaceId ? await this.options.workspaceProvider(workspaceId) : this.options.instance;
    if (!settings) throw new AppError('not_found', workspaceId ? 'This workspace has no single sign-on.' : 'Single sign-on is not configured.');
    return settings;
  }

  private configuration(settings: OidcProviderSettings): Promise<client.Configuration> {
    const key = sha256(JSON.stringify([settings.workspace?.id ?? null, settings.issuer, settings.clientId, settings.clientSecret]));
    const cached = this.configs.get(key);
    if (cached) return cached;
    const issuer = new URL(settings.issuer);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
    const execute = loopback && issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
    const options: client.DiscoveryRequestOptions = { execute, ...(settings.workspace ? { [client.customFetch]: this.options.guardedFetch } : {}) };
    const pending = client
      .discovery(issuer, settings.clientId, settings.clientSecret, undefined, options)
      .then((config) => {
        if (settings.workspace) config[client.customFetch] = this.options.guardedFetch;
        return config;
      })
      .catch((error: unknown) => {
        this.configs.delete(key);
        throw error;
      });
    if (this.configs.size >= MAX_CONFIGURATIONS) this.configs.delete(this.configs.keys().next().value!);
    this.configs.set(key, pending);
    return pending;
  }

  /** Starts a sign-in (instance provider, or the workspace's): the provider URL and the browser-binding cookie value. */
  async start(workspaceId: string | null = null): Promise<{ url: string; browserCookie: string }> {
    const settings = await this.settingsFor(workspaceId);
    let config: client.Configuration;
    try {
      config = await this.configuration(settings);
    } catch (error) {
      this.deps.logger.warn({ err: { message: (error as Error).message }, workspaceId }, 'oidc discovery failed');
      throw new AppError('service_unavailable', 'The identity provider could not be reached; try again shortly.');
    }
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const browserCookie = randomBytes(32).toString('base64url');
    const flow: Flow = { verifier, nonce, browser: sha256(browserCookie), workspaceId };
    await this.deps.store.set(`oidc:${sha256(state)}`, JSON.stringify(flow), { ttlMs: FLOW_TTL_MS });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUri,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, browserCookie };
  }

  /** Completes a sign-in from the provider's redirect. */
  async callback(callbackUrl: URL, browserCookie: string | undefined, context: RequestContext): Promise<SignInResult | { kind: 'link_pending' }> {
    const state = callbackUrl.searchParams.get('state');
    if (!state || state.length > 200) throw failed('missing state');
    const key = `oidc:${sha256(state)}`;
    const raw = await this.deps.store.get(key);
    if (!raw) throw failed('unknown or expired state');
    await this.deps.store.delete(key); // single use
    const flow = JSON.parse(raw) as Flow;
    if (!browserCookie || sha256(browserCookie) !== flow.browser) throw failed('the sign-in was started in another browser');
    const settings = await this.settingsFor(flow.workspaceId ?? null).catch(() => {
      throw failed('single sign-on was turned off meanwhile');
    });
    let claims: client.IDToken;
    let userinfo: client.UserInfoResponse;
    try {
      const config = await this.configuration(settings);
      const callback = new URL(this.options.redirectUri);
      callback.search = callbackUrl.search;
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims()!;
      userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    } catch (error) {
      this.deps.logger.warn({ err: { message: (error as Error).message } }, 'oidc callback refused');
      throw failed('the provider response did not validate');
    }
    return this.signInIdentity(claims.iss, claims.sub, userinfo, context, settings);
  }

  private async signInIdentity(issuer: string, subject: string, userinfo: client.UserInfoResponse, context: RequestContext, settings: OidcProviderSettings): Promise<SignInResult | { kind: 'link_pending' }> {
    const { db, clock } = this.deps;
    const identity = await findIdentityUser(db, issuer, subject);
    if (identity) {
      const user = await this.deps.users.byId(identity.user_id);
      if (!user) throw failed('the linked account no longer exists');
      if (settings.workspace && settings.jitProvisioning) await this.options.addMember(settings.workspace.id, user.id, settings.workspace.defaultRole);
      if (user.password_reset_required) throw new AppError('password_reset_required', 'This account needs a new password first.');
      if (user.totp_enabled_at) {
        // Bastion's second factor still applies: finish with POST /auth/login/mfa.
        return { kind: 'mfa', mfaToken: await issueToken(this.deps, 'mfa_login', { userId: user.id }, 5 * 60 * 1000) };
      }
      return completeSignIn(this.deps, user, context);
    }
    const email = typeof userinfo.email === 'string' ? normalizeEmail(userinfo.email) : undefined;
    const verified = userinfo.email_verified === true;
    if (!email || !verified) {
      await securityEvent(this.deps, { type: 'auth.oidc_unverified_email', ...originOfContext(context), details: { issuer, subject } });
      throw failed('the identity provider did not confirm a verified email address');
    }
    const existing = await this.deps.users.byEmail(email);
    if (existing) {
      // No silent account takeover: the owner confirms the link by mail.
      const token = await issueToken(this.deps, 'oidc_link', { userId: existing.id }, 30 * 60 * 1000, { payload: { issuer, subject, email } });
      sendInBackground(this.deps, {
        to: existing.email,
        subject: 'Link a single sign-on identity to your Bastion account?',
        text: `Someone signed in with ${issuer} as ${email}. If it was you, confirm to link it: ${appLink(this.deps, 'link-identity', { token })}\n\nIf not, ignore this mail.\n\n— Bastion`,
        html: `<p>Someone signed in with single sign-on as this address. If it was you, <a href="${appLink(this.deps, 'link-identity', { token }).replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">confirm to link it</a>.</p><p>If not, ignore this mail.</p><p>— Bastion</p>`,
      });
      return { kind: 'link_pending' };
    }
    // Workspace providers never create accounts: their issuer is not chosen by the operator.
    if (settings.workspace || !settings.jitProvisioning) throw failed('no Bastion account uses this email; ask an administrator for an invitation');
    const now = clock.now();
    const id = randomUUID();
    const name = typeof userinfo.name === 'string' ? userinfo.name.slice(0, 100) : email.split('@')[0]!;
    // An unusable password: federated accounts sign in through their provider (or reset a password).
    await this.deps.users.create({ id, email, name, role: 'member', password_hash: await hashPassword(randomBytes(32).toString('base64url')), email_verified_at: now, created_at: now });
    await insertIdentity(db, { issuer, subject, user_id: id, email, created_at: now });
    return completeSignIn(this.deps, (await this.deps.users.byId(id))!, context);
  }

  /** The owner confirms linking an identity (from the mailed link, while signed in or not). */
  async confirmLink(token: string, origin: EventOrigin = {}): Promise<void> {
    const row = await findToken(this.deps, 'oidc_link', token);
    if (!row?.user_id || !(await spendToken(this.deps, row.id))) throw new AppError('invalid_token', 'This link is invalid or has expired.');
    const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as { issuer: string; subject: string; email: string };
    await insertIdentityIfAbsent(this.deps.db, { issuer: payload.issuer, subject: payload.subject, user_id: row.user_id, email: payload.email, created_at: this.deps.clock.now() });
    await securityEvent(this.deps, { ...origin, type: 'auth.oidc_identity_linked', userId: row.user_id, details: { issuer: payload.issuer } });
  }
}
