/**
 * Configuration: the only module that reads `process.env`.
 *
 * Every variable is declared once in `variables` with its schema, default and
 * documentation; `.env.example` and the README table are generated from it
 * (`bastion config example|docs`) and a test keeps them in step.
 */
import path from 'node:path';
import { z } from 'zod';

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
const MASTER_KEY_ENTRY = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/_-]{43}=?)$/;

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
    doc: 'Comma-separated `id:base64key` master keys (32 random bytes each). Required in production.',
    example: '',
    secret: true,
  },
  MASTER_KEY_ACTIVE: {
    group: 'Secrets',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).optional(),
    doc: 'Id of the master key used for new data; defaults to the last key in MASTER_KEYS.',
    example: '',
  },
} satisfies Record<string, Variable>;

type Variables = typeof variables;
export type VariableName = keyof Variables;
type Raw = { [K in VariableName]: z.output<Variables[K]['schema']> };

export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface Config extends Omit<Raw, 'CORS_ORIGINS' | 'MASTER_KEYS' | 'PUBLIC_URL' | 'DATA_DIR'> {
  PUBLIC_URL: string;
  DATA_DIR: string;
  CORS_ORIGINS: string[];
  MASTER_KEYS: MasterKey[];
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
  const masterKeys = parseMasterKeys(values.MASTER_KEYS, values.MASTER_KEY_ACTIVE, problems);
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

function parseMasterKeys(value: string | undefined, active: string | undefined, problems: string[]): MasterKey[] {
  if (!value) {
    if (active) problems.push('MASTER_KEY_ACTIVE: set but MASTER_KEYS is empty');
    return [];
  }
  const keys: MasterKey[] = [];
  for (const [index, entry] of value.split(',').map((e) => e.trim()).entries()) {
    const match = MASTER_KEY_ENTRY.exec(entry);
    const key = match ? Buffer.from(match[2]!, match[2]!.includes('-') || match[2]!.includes('_') ? 'base64url' : 'base64') : undefined;
    if (!match || !key || key.length !== 32) {
      problems.push(`MASTER_KEYS: entry ${index + 1} must be id:base64 of exactly 32 bytes`);
      continue;
    }
    if (keys.some((k) => k.id === match[1])) problems.push(`MASTER_KEYS: duplicate key id "${match[1]}"`);
    else if (isWeakKey(key)) problems.push(`MASTER_KEYS: key "${match[1]}" is not random (generate one with \`openssl rand -base64 32\`)`);
    else keys.push({ id: match[1]!, key });
  }
  if (active && !keys.some((k) => k.id === active)) {
    problems.push(`MASTER_KEY_ACTIVE: no key with id "${active}" in MASTER_KEYS`);
  }
  if (active) keys.push(...keys.splice(keys.findIndex((k) => k.id === active), 1));
  return keys;
}

/** A random 32-byte key has ~32 distinct byte values; placeholders like "aaaa…" or 0..31 don't. */
function isWeakKey(key: Buffer): boolean {
  const distinct = new Set(key).size;
  const sequential = key.every((byte, i) => i === 0 || byte === ((key[i - 1]! + 1) & 0xff));
  return distinct < 16 || sequential;
}

const PLACEHOLDER = /(changeme|change-me|example|secret|password|default|placeholder|xxxx)/i;

function productionProblems(env: Env, values: Raw, cors: string[], keys: MasterKey[]): string[] {
  const problems: string[] = [];
  if (keys.length === 0) problems.push('MASTER_KEYS: required in production');
  if (!values.PUBLIC_URL) problems.push('PUBLIC_URL: required in production');
  else if (!values.PUBLIC_URL.startsWith('https://')) problems.push('PUBLIC_URL: must be https in production');
  if (!values.DATABASE_URL) problems.push('DATABASE_URL: required in production (the embedded database is for one process on one machine)');
  if (!values.REDIS_URL) problems.push('REDIS_URL: required in production (the in-memory store is for one process only)');
  if (cors.includes('*')) problems.push('CORS_ORIGINS: wildcard "*" is refused in production; list exact origins');
  for (const origin of cors) {
    if (origin.startsWith('http://')) problems.push(`CORS_ORIGINS: "${origin}" must be https in production`);
  }
  for (const name of ['DATABASE_URL', 'REDIS_URL'] as const) {
    const password = safePassword(env[name]);
    if (password !== undefined && (PLACEHOLDER.test(password) || password.length < 12)) {
      problems.push(`${name}: the password is a default or too short (12+ random characters)`);
    }
  }
  return problems;
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
