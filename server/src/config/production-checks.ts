/** What `NODE_ENV=production` refuses: embedded backends, missing keys, http URLs, weak secrets. */
import type { MasterKeySet } from '../platform/crypto/master-keys.js';
import type { Env, Raw } from './variables.js';

const PLACEHOLDER = /(changeme|change-me|example|secret|password|default|placeholder|xxxx)/i;

/** The production refusals for already parsed values; `env` gives the raw URLs whose passwords are judged. */
export function productionProblems(env: Env, values: Raw, cors: string[], keys: MasterKeySet | undefined): string[] {
  const problems: string[] = [];
  if (!keys) problems.push('MASTER_KEYS: required in production (or MASTER_KEYS_FILE)');
  if (!values.PUBLIC_URL) problems.push('PUBLIC_URL: required in production');
  else if (!values.PUBLIC_URL.startsWith('https://')) problems.push('PUBLIC_URL: must be https in production');
  if (!values.DATABASE_URL) problems.push('DATABASE_URL: required in production (the embedded database is for one process on one machine)');
  if (!values.REDIS_URL) problems.push('REDIS_URL: required in production (the in-memory store is for one process only)');
  if (values.OIDC_ISSUER && (!values.OIDC_CLIENT_ID || !values.OIDC_CLIENT_SECRET)) problems.push('OIDC_CLIENT_ID: OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET');
  if (values.OIDC_ISSUER?.startsWith('http://')) problems.push('OIDC_ISSUER: must be https in production');
  if (!values.SMTP_URL) problems.push('SMTP_URL: required in production (the outbox cannot deliver reset and verification mail)');
  if (cors.includes('*')) problems.push('CORS_ORIGINS: wildcard "*" is refused in production; list exact origins');
  for (const origin of cors) {
    if (origin.startsWith('http://')) problems.push(`CORS_ORIGINS: "${origin}" must be https in production`);
  }
  if (values.METRICS_TOKEN && (PLACEHOLDER.test(values.METRICS_TOKEN) || entropyBits(values.METRICS_TOKEN) < MIN_PASSWORD_BITS)) {
    problems.push('METRICS_TOKEN: the token is a default or too weak (use `openssl rand -hex 32`)');
  }
  for (const name of ['DATABASE_URL', 'REDIS_URL'] as const) {
    const password = safePassword(env[name]);
    if (password !== undefined && (PLACEHOLDER.test(password) || entropyBits(password) < MIN_PASSWORD_BITS)) {
      problems.push(`${name}: the password is a default or too weak (use 16+ random characters)`);
    }
  }
  return problems;
}

const MIN_PASSWORD_BITS = 64;

/**
 * A rough upper bound of a typed secret's entropy: length (counting each distinct
 * character at most twice, so "aaaa…" scores low) times log2 of the alphabet it draws on.
 */
export function entropyBits(secret: string): number {
  const pool = (/[a-z]/.test(secret) ? 26 : 0) + (/[A-Z]/.test(secret) ? 26 : 0) + (/[0-9]/.test(secret) ? 10 : 0) + (/[^A-Za-z0-9]/.test(secret) ? 33 : 0);
  const effectiveLength = Math.min(secret.length, new Set(secret).size * 2);
  return pool === 0 ? 0 : effectiveLength * Math.log2(pool);
}

function safePassword(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const password = decodeURIComponent(new URL(value).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}
