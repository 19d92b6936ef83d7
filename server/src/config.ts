/**
 * Configuration: the only module that reads `process.env`.
 *
 * Every variable is declared once in `variables` with its schema, default and
 * documentation; `.env.example` and the README table are generated from it
 * (`bastion config example|docs`) and a test keeps them in step.
 */
import path from 'node:path';
import fs from 'node:fs';
import { z } from 'zod';
import { parseMasterKeys, type MasterKeySet } from './platform/crypto/master-keys.js';

export type Env = Record<string, string | undefined>;

interface Variable<T extends z.ZodType = z.ZodType> {
  group: string;
  schema: T;
  doc: string;
  /** Value shown in `.env.example`; defaults to the schema default. */
  example?: string;
  /** Secret values are never echoed in errors or logs. */
  secret?: boolean;
}

const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const url = (protocols: string[]) =>
  z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`) });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every environment variable Bastion reads, in documentation order. */
export const variables = {
  NODE_ENV: {
    group: 'Server',
    schema: z.enum(['development', 'test', 'production']).default('development'),
    doc: '`production` refuses insecure settings (embedded backends, weak keys, http PUBLIC_URL, wildcard CORS).',
  },
  HOST: { group: 'Server', schema: z.string().min(1).default('127.0.0.1'), doc: 'Interface to listen on.' },
  PORT: { group: 'Server', schema: int(0, 65535, 3000), doc: 'TCP port to listen on (0 picks a free port).' },
  PUBLIC_URL: {
    group: 'Server',
    schema: url(['http', 'https']).optional(),
    doc: 'External URL people use to reach Bastion; must be https in production. Defaults to http://HOST:PORT.',
    example: '',
  },
  DATA_DIR: {
    group: 'Server',
    schema: z.string().min(1).default('./data'),
    doc: 'Directory for the embedded database and generated files.',
  },
  LOG_LEVEL: { group: 'Server', schema: z.enum(LOG_LEVELS).default('info'), doc: 'pino log level.' },
  SHUTDOWN_TIMEOUT_MS: {
    group: 'Server',
    schema: int(0, 600_000, 10_000),
    doc: 'How long SIGTERM/SIGINT waits for in-flight requests before closing anyway.',
  },
  BODY_LIMIT_BYTES: {
    group: 'HTTP',
    schema: int(1_024, 100 * 1024 * 1024, 1024 * 1024),
    doc: 'Largest JSON request body accepted; larger bodies get 413 payload_too_large.',
  },
  JSON_MAX_DEPTH: {
    group: 'HTTP',
    schema: int(1, 1_000, 32),
    doc: 'Deepest nesting of objects/arrays accepted in a JSON body.',
  },
  TRUSTED_PROXIES: {
    group: 'HTTP',
    schema: z.string().default(''),
    doc: 'Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed. Empty: the client IP is the socket peer.',
  },
  HSTS_PRELOAD: {
    group: 'HTTP',
    schema: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    doc: 'Add `preload` to Strict-Transport-Security (sent when PUBLIC_URL is https). Only after submitting the domain to the preload list.',
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    group: 'HTTP',
    schema: int(1_000, 3_600_000, 30_000),
    doc: 'A request must be received completely within this time (socket level).',
  },
  HTTP_HEADERS_TIMEOUT_MS: {
    group: 'HTTP',
    schema: int(500, 600_000, 10_000),
    doc: 'Request headers must arrive within this time (slow-loris protection).',
  },
  HTTP_KEEP_ALIVE_TIMEOUT_MS: {
    group: 'HTTP',
    schema: int(100, 600_000, 72_000),
    doc: 'Idle keep-alive connections are closed after this time; keep it longer than your load balancer’s idle timeout (else it sees resets).',
  },
  HTTP_HANDLER_TIMEOUT_MS: {
    group: 'HTTP',
    schema: int(100, 3_600_000, 30_000),
    doc: 'A route that has not answered within this time gets 503 service_unavailable (routes may set their own).',
  },
  HTTP_MAX_HEADER_BYTES: {
    group: 'HTTP',
    schema: int(4_096, 65_536, 16_384),
    doc: 'Largest total size of request headers (431 beyond).',
  },
  HTTP_MAX_URL_LENGTH: {
    group: 'HTTP',
    schema: int(256, 65_536, 8_192),
    doc: 'Longest request URL accepted (414 uri_too_long beyond).',
  },
  HTTP_MAX_QUERY_PARAMS: {
    group: 'HTTP',
    schema: int(1, 1_000, 64),
    doc: 'Most query-string parameters accepted (400 too_many_parameters beyond).',
  },
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: {
    group: 'HTTP',
    schema: int(0, 60_000, 1_000),
    doc: 'Shed load with 503 + Retry-After while the event loop lags more than this (0 disables).',
  },
  OVERLOAD_MAX_HEAP_BYTES: {
    group: 'HTTP',
    schema: z.coerce.number().int().min(0).default(0),
    doc: 'Shed load with 503 + Retry-After while the V8 heap in use exceeds this many bytes (0 disables; set it below the container memory limit).',
  },
  RATE_LIMIT_SCALE: {
    group: 'HTTP',
    schema: z.coerce.number().min(0.01).max(100_000).default(1),
    doc: 'Multiplies every rate-limit budget (e.g. 2 doubles them); the classes are listed in docs/security-model.md.',
  },
  CORS_ORIGINS: {
    group: 'HTTP',
    schema: z.string().default(''),
    doc: 'Comma-separated exact origins (scheme://host[:port]) allowed to call the API from a browser. Empty: same origin only.',
  },
  DATABASE_URL: {
    group: 'Database',
    schema: url(['postgres', 'postgresql']).optional(),
    doc: 'PostgreSQL connection URL. Unset: embedded PGlite under DATA_DIR (single process only).',
    example: '',
    secret: true,
  },
  DB_POOL_MAX: { group: 'Database', schema: int(1, 1_000, 10), doc: 'Maximum connections in the PostgreSQL pool.' },
  DB_STATEMENT_TIMEOUT_MS: {
    group: 'Database',
    schema: int(0, 3_600_000, 15_000),
    doc: 'Server-side statement timeout per connection (0 disables).',
  },
  DB_IDLE_TIMEOUT_MS: {
    group: 'Database',
    schema: int(0, 3_600_000, 30_000),
    doc: 'Close pooled connections idle longer than this.',
  },
  DB_CONNECT_TIMEOUT_MS: {
    group: 'Database',
    schema: int(100, 600_000, 5_000),
    doc: 'Give up opening a database connection after this long (the request gets 503).',
  },
  REDIS_URL: {
    group: 'Store',
    schema: url(['redis', 'rediss']).optional(),
    doc: 'Redis URL for sessions, rate limits and caches. Unset: in-memory store (single process only).',
    example: '',
    secret: true,
  },
  REDIS_KEY_PREFIX: {
    group: 'Store',
    schema: z.string().regex(/^[A-Za-z0-9:_-]{0,64}$/, 'letters, digits, ":", "_" or "-" only').default('bastion:'),
    doc: 'Prefix for every Redis key, so several deployments can share one Redis.',
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    group: 'Store',
    schema: int(50, 60_000, 2_000),
    doc: 'A Redis command that takes longer fails (the request gets 503).',
  },
  STORE_MEMORY_MAX_KEYS: {
    group: 'Store',
    schema: int(100, 100_000_000, 100_000),
    doc: 'Bound of the in-memory store; least recently used keys are evicted beyond it.',
  },
  MASTER_KEYS: {
    group: 'Secrets',
    schema: z.string().optional(),
    doc: 'Master keys as `id:base64key` (32 random bytes each), comma-separated, the active one marked `*id:…`. Required in production unless MASTER_KEYS_FILE is set. Unset in development: a key file is generated under DATA_DIR.',
    example: '',
    secret: true,
  },
  MASTER_KEYS_FILE: {
    group: 'Secrets',
    schema: z.string().min(1).optional(),
    doc: 'Path of a file holding the master keys in the MASTER_KEYS format, one per line (mode 0600). `bastion keys rotate` edits it in place.',
    example: '',
  },
  REGISTRATION: {
    group: 'Accounts',
    schema: z.enum(['open', 'invite', 'closed']).default('invite'),
    doc: '`open`: anyone may register; `invite`: only with an invitation from an admin (`bastion users invite`); `closed`: admins create accounts.',
  },
  REQUIRE_EMAIL_VERIFICATION: {
    group: 'Accounts',
    schema: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
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
  OIDC_ISSUER: {
    group: 'Single sign-on',
    schema: url(['https', 'http']).optional(),
    doc: 'OpenID Connect issuer URL (discovery at /.well-known/openid-configuration). Unset: no SSO. Must be https except on loopback.',
    example: '',
  },
  OIDC_CLIENT_ID: { group: 'Single sign-on', schema: z.string().min(1).max(200).optional(), doc: 'Client id registered at the identity provider.', example: '' },
  OIDC_CLIENT_SECRET: { group: 'Single sign-on', schema: z.string().min(1).max(500).optional(), doc: 'Client secret registered at the identity provider.', example: '', secret: true },
  OIDC_JIT_PROVISIONING: {
    group: 'Single sign-on',
    schema: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    doc: 'Create an account at first SSO sign-in for a verified email that has none.',
  },
  SMTP_URL: {
    group: 'Mail',
    schema: url(['smtp', 'smtps']).optional(),
    doc: 'SMTP server for outgoing mail (smtp://user:pass@host:587 uses STARTTLS; smtps:// is TLS). Unset: mail goes to the outbox table and the log.',
    example: '',
    secret: true,
  },
  MAIL_FROM: {
    group: 'Mail',
    schema: z.string().min(3).max(200).default('Bastion <bastion@localhost>'),
    doc: 'From address of outgoing mail.',
  },
  OUTBOUND_ALLOW_PRIVATE: {
    group: 'Agents and providers',
    schema: z.string().max(2000).default(''),
    doc: 'Comma-separated hosts or CIDR ranges that outbound calls (LLM providers, fetch_url) may reach although private, loopback or link-local, e.g. "ollama.internal,10.0.5.0/24". Empty: only public addresses.',
    example: '',
  },
  PROVIDER_TIMEOUT_MS: {
    group: 'Agents and providers',
    schema: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
    doc: 'Time an LLM provider has to start answering, per attempt.',
  },
  PROVIDER_MAX_RETRIES: {
    group: 'Agents and providers',
    schema: z.coerce.number().int().min(0).max(5).default(2),
    doc: 'Retries (with jittered backoff) on provider 429, 5xx and network errors before the answer starts.',
  },
  PROVIDER_BREAKER_THRESHOLD: {
    group: 'Agents and providers',
    schema: z.coerce.number().int().min(1).max(1_000).default(5),
    doc: 'Consecutive failed calls after which a provider connection is skipped (circuit open) for PROVIDER_BREAKER_COOLDOWN_MS.',
  },
  PROVIDER_BREAKER_COOLDOWN_MS: {
    group: 'Agents and providers',
    schema: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    doc: 'How long an open circuit refuses calls before one trial call is let through.',
  },
  LLM_CACHE_TTL_SECONDS: {
    group: 'Agents and providers',
    schema: z.coerce.number().int().min(0).max(30 * 86_400).default(3_600),
    doc: 'Lifetime of cached answers to deterministic requests (temperature 0, same model and messages), per workspace; 0 disables the cache. Agents can opt out.',
  },
  UPLOAD_MAX_BYTES: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1_024).max(1_073_741_824).default(26_214_400),
    doc: 'Largest document accepted (upload or URL), in bytes; the transfer stops at this size.',
  },
  WORKSPACE_STORAGE_QUOTA_BYTES: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1_024).max(1e13).default(1_073_741_824),
    doc: 'Total size of the documents one workspace may keep, in bytes.',
  },
  CLAMD_URL: {
    group: 'Knowledge',
    schema: z
      .string()
      .regex(/^(tcp:\/\/[^/]+:\d+|unix:\/\/\/.+)$/, 'tcp://host:port or unix:///path/to/clamd.sock')
      .optional(),
    doc: 'ClamAV daemon for malware scanning in addition to the built-in checks (tcp://127.0.0.1:3310 or unix:///run/clamav/clamd.ctl).',
    example: '',
  },
  CLAMD_FAIL_OPEN: {
    group: 'Knowledge',
    schema: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    doc: 'When ClamAV is unreachable: false (default) holds documents in `scanning` and retries; true lets them through on the built-in checks alone.',
  },
  INGEST_IN_PROCESS: {
    group: 'Knowledge',
    schema: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
    doc: 'Run ingestion workers inside the API process. Set false when `bastion worker` processes run separately (needs REDIS_URL).',
  },
  INGEST_CONCURRENCY: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1).max(64).default(2),
    doc: 'Documents ingested at once per worker process.',
  },
  QUEUE_LOCK_MS: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
    doc: 'With Redis: how long a job stays claimed by a worker that stopped answering. Jobs of a crashed worker run again after about 1.5× this.',
  },
  INGEST_ATTEMPTS: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1).max(20).default(5),
    doc: 'Tries per document (with backoff) before it is marked failed with the reason.',
  },
  PDF_TIMEOUT_MS: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(500).max(300_000).default(20_000),
    doc: 'Time a PDF may take to parse (in a worker thread) before it is refused.',
  },
  PDF_MAX_MEMORY_MB: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(32).max(4_096).default(256),
    doc: 'Heap limit of the PDF parsing worker thread.',
  },
} satisfies Record<string, Variable>;

type Variables = typeof variables;
export type VariableName = keyof Variables;
type Raw = { [K in VariableName]: z.output<Variables[K]['schema']> };

export interface Config extends Omit<Raw, 'CORS_ORIGINS' | 'MASTER_KEYS' | 'PUBLIC_URL' | 'DATA_DIR'> {
  PUBLIC_URL: string;
  DATA_DIR: string;
  CORS_ORIGINS: string[];
  /** The configured master keys (MASTER_KEYS or MASTER_KEYS_FILE); undefined on the embedded default. */
  MASTER_KEYS: MasterKeySet | undefined;
}

/** Thrown by `loadConfig`; the message names every bad variable and never a secret value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads, validates and normalises the environment; throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(variables) as [VariableName, Variable][]) {
    const value = env[name] === '' ? undefined : env[name];
    const parsed = variable.schema.safeParse(value);
    if (parsed.success) raw[name] = parsed.data;
    else problems.push(`${name}: ${describeIssue(parsed.error, variable.secret === true)}`);
  }
  const values = raw as Raw;
  const corsOrigins = parseOrigins(values.CORS_ORIGINS ?? '', problems);
  const masterKeys = readMasterKeys(values, values.NODE_ENV === 'production', problems);
  if (values.NODE_ENV === 'production') {
    // Add production refusals for variables that are not already reported as malformed.
    const reported = new Set(problems.map((p) => p.split(':')[0]));
    problems.push(...productionProblems(env, values, corsOrigins, masterKeys).filter((p) => !reported.has(p.split(':')[0])));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...values,
    PUBLIC_URL: (values.PUBLIC_URL ?? `http://${values.HOST}:${values.PORT}`).replace(/\/$/, ''),
    DATA_DIR: path.resolve(values.DATA_DIR),
    CORS_ORIGINS: corsOrigins,
    MASTER_KEYS: masterKeys,
  };
}

function describeIssue(error: z.ZodError, secret: boolean): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  // Zod messages may quote the received value; secrets get a fixed message instead.
  if (secret) return issue.code === 'invalid_format' ? 'not a valid URL of the expected kind' : 'invalid value';
  return issue.message;
}

function parseOrigins(value: string, problems: string[]): string[] {
  const origins = value.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue; // refused in production below; allowed for local experiments
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      problems.push(`CORS_ORIGINS: "${origin}" is not an exact origin like https://app.example.com`);
    }
  }
  return origins;
}

function readMasterKeys(values: Raw, production: boolean, problems: string[]): MasterKeySet | undefined {
  if (values.MASTER_KEYS && values.MASTER_KEYS_FILE) {
    problems.push('MASTER_KEYS_FILE: set either MASTER_KEYS or MASTER_KEYS_FILE, not both');
    return undefined;
  }
  if (values.MASTER_KEYS) return parseMasterKeys(values.MASTER_KEYS, 'MASTER_KEYS', problems);
  if (!values.MASTER_KEYS_FILE) return undefined;
  const file = path.resolve(values.MASTER_KEYS_FILE);
  let text: string;
  try {
    if (production && (fs.statSync(file).mode & 0o077) !== 0) {
      problems.push('MASTER_KEYS_FILE: the file is readable by group or others; chmod 600 it');
    }
    text = fs.readFileSync(file, 'utf8');
  } catch {
    problems.push('MASTER_KEYS_FILE: cannot read the file');
    return undefined;
  }
  return parseMasterKeys(text, 'MASTER_KEYS_FILE', problems);
}

const PLACEHOLDER = /(changeme|change-me|example|secret|password|default|placeholder|xxxx)/i;

function productionProblems(env: Env, values: Raw, cors: string[], keys: MasterKeySet | undefined): string[] {
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
  const pool =
    (/[a-z]/.test(secret) ? 26 : 0) + (/[A-Z]/.test(secret) ? 26 : 0) + (/[0-9]/.test(secret) ? 10 : 0) + (/[^A-Za-z0-9]/.test(secret) ? 33 : 0);
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

/** What the test harness takes from the environment: the run's backends, the worker and tools. */
export interface TestRunSettings {
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  workerId: string;
  redisServerBin: string;
  ci: boolean;
  /** PATH handed to spawned Bastion processes. */
  path: string | undefined;
}

export function testRunSettings(env: Env = process.env): TestRunSettings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    workerId: env.VITEST_POOL_ID ?? '0',
    redisServerBin: env.REDIS_SERVER_BIN ?? 'redis-server',
    ci: Boolean(env.CI),
    path: env.PATH,
  };
}
