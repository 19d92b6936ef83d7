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
import { parseAllowList, type AllowList, type ParseAllowListOptions } from './platform/net/ssrf-guard.js';

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

/** A list of private destinations an outbound purpose may reach (see parseAllowList). */
const allowList = (options: ParseAllowListOptions = {}) =>
  z
    .string()
    .max(2000)
    .default('')
    .transform((value, context): AllowList => {
      try {
        return parseAllowList(value, options);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

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
  OUTBOUND_ALLOW_PRIVATE_PROVIDERS: {
    group: 'Agents and providers',
    schema: allowList(),
    doc: 'Private, loopback or link-local destinations that LLM provider connections (chat, connection tests, embeddings) may reach, as comma-separated `host:port` entries; host is a name, an IP address or a CIDR range (IPv6 in brackets), port a number or `*` for every port, e.g. "localhost:11434,10.0.5.0/24:443,[::1]:8080". Empty: only public addresses.',
    example: '',
  },
  OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE: {
    group: 'Agents and providers',
    schema: allowList(),
    doc: 'Private `host:port` destinations that documents added to a knowledge base by URL may be fetched from (syntax as OUTBOUND_ALLOW_PRIVATE_PROVIDERS). Empty: only public addresses.',
    example: '',
  },
  OUTBOUND_ALLOW_PRIVATE_TOOLS: {
    group: 'Agents and providers',
    schema: allowList(),
    doc: 'Private `host:port` destinations that the fetch_url agent tool may reach (syntax as OUTBOUND_ALLOW_PRIVATE_PROVIDERS). Anyone who can chat with such an agent can read them. Empty: only public addresses.',
    example: '',
  },
  OUTBOUND_ALLOW_PRIVATE_WEBHOOKS: {
    group: 'Agents and providers',
    schema: allowList(),
    doc: 'Private `host:port` destinations that agent webhook callbacks and ALERT_WEBHOOK_URL may be sent to (syntax as OUTBOUND_ALLOW_PRIVATE_PROVIDERS). Empty: only public addresses.',
    example: '',
  },
  OUTBOUND_ALLOW_PRIVATE_SSO: {
    group: 'Agents and providers',
    schema: allowList(),
    doc: 'Private `host:port` destinations that workspace single sign-on (OIDC discovery, token and key requests) may reach (syntax as OUTBOUND_ALLOW_PRIVATE_PROVIDERS). The instance provider (OIDC_ISSUER) is not restricted. Empty: only public addresses.',
    example: '',
  },
  OUTBOUND_ALLOW_PRIVATE: {
    group: 'Agents and providers',
    schema: allowList({ portOptional: true }),
    doc: 'Deprecated: use OUTBOUND_ALLOW_PRIVATE_PROVIDERS. Its entries (hosts or CIDR ranges, port optional) now apply to LLM provider connections only, on every port unless one is given; a warning is logged at start.',
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
  METRICS_TOKEN: {
    group: 'Monitoring',
    schema: z
      .string()
      .refine((v) => /^[\x21-\x7e]{32,512}$/.test(v), '32 to 512 printable characters without spaces (e.g. `openssl rand -hex 32`)')
      .optional(),
    doc: 'Serves Prometheus metrics at GET /metrics on the main port to `Authorization: Bearer <token>` only. Unset (and no METRICS_PORT): /metrics answers 404.',
    example: '',
    secret: true,
  },
  METRICS_PORT: {
    group: 'Monitoring',
    schema: z.coerce.number().int().min(1).max(65535).optional(),
    doc: 'Serves GET /metrics (and nothing else) on a second listener at METRICS_HOST:METRICS_PORT, for a scraper inside the private network. Asks for METRICS_TOKEN too when it is set.',
    example: '',
  },
  METRICS_HOST: {
    group: 'Monitoring',
    schema: z.string().min(1).default('127.0.0.1'),
    doc: 'Interface of the METRICS_PORT listener; keep it private (loopback, or the pod/host address your Prometheus reaches).',
  },
  MONITOR_WINDOW_MINUTES: {
    group: 'Security monitoring',
    schema: int(1, 1_440, 15),
    doc: 'Sliding window of the sign-in rules (credential stuffing, password spraying, brute force) and of API-key address counting.',
  },
  MONITOR_STUFFING_ACCOUNTS: {
    group: 'Security monitoring',
    schema: int(2, 100_000, 10),
    doc: 'Credential stuffing: distinct accounts failing to sign in from one IP within the window.',
  },
  MONITOR_STUFFING_NETWORK_ACCOUNTS: {
    group: 'Security monitoring',
    schema: int(2, 100_000, 25),
    doc: 'Credential stuffing: distinct accounts failing from one /24 (IPv4) or /48 (IPv6) network within the window.',
  },
  MONITOR_SPRAYING_ACCOUNTS: {
    group: 'Security monitoring',
    schema: int(2, 100_000, 10),
    doc: 'Password spraying: distinct accounts failing with the same (keyed, 16-bit) password prefix within the window.',
  },
  MONITOR_BRUTE_FORCE_FAILURES: {
    group: 'Security monitoring',
    schema: int(2, 100_000, 10),
    doc: 'Brute force: failed sign-ins on one account (from any address) within the window.',
  },
  MONITOR_API_KEY_IPS: {
    group: 'Security monitoring',
    schema: int(0, 100_000, 5),
    doc: 'An API key used from this many new addresses within the window raises an alert; 0 turns the rule off.',
  },
  MONITOR_TRAFFIC_WINDOW_SECONDS: {
    group: 'Security monitoring',
    schema: int(10, 3_600, 60),
    doc: 'Window of the per-principal traffic rules (enumeration, request volume, error ratio).',
  },
  MONITOR_ENUMERATION_RESPONSES: {
    group: 'Security monitoring',
    schema: int(0, 1_000_000, 50),
    doc: 'Enumeration: 403/404 answers to one principal (user, API key or IP) within the traffic window; 0 turns the rule off.',
  },
  MONITOR_REQUESTS_PER_PRINCIPAL: {
    group: 'Security monitoring',
    schema: int(0, 10_000_000, 3_000),
    doc: 'Unusual volume: API requests by one principal within the traffic window; 0 turns the rule off.',
  },
  MONITOR_ERROR_RATIO: {
    group: 'Security monitoring',
    schema: z.coerce.number().min(0).max(1).default(0.5),
    doc: 'Unusual error ratio: share of 4xx/5xx answers to one principal within the traffic window (checked once MONITOR_ERROR_MIN errors were seen); 0 turns the rule off.',
  },
  MONITOR_ERROR_MIN: {
    group: 'Security monitoring',
    schema: int(1, 1_000_000, 100),
    doc: 'Errors one principal must have had within the traffic window before its error ratio is judged.',
  },
  MONITOR_SAMPLE_SECONDS: {
    group: 'Security monitoring',
    schema: int(0, 3_600, 30),
    doc: 'How often event-loop lag, heap use and database-pool waiters are sampled; 0 turns resource alerts off.',
  },
  MONITOR_EVENT_LOOP_LAG_MS: {
    group: 'Security monitoring',
    schema: int(0, 600_000, 1_000),
    doc: 'Resource pressure: alert when the event loop lagged this long (p99 since the last sample); 0 turns it off.',
  },
  MONITOR_HEAP_USED_RATIO: {
    group: 'Security monitoring',
    schema: z.coerce.number().min(0).max(1).default(0.9),
    doc: 'Resource pressure: alert when the V8 heap holds this share of its limit; 0 turns it off.',
  },
  MONITOR_DB_POOL_WAITING: {
    group: 'Security monitoring',
    schema: int(0, 100_000, 10),
    doc: 'Resource pressure: alert when this many queries wait for a PostgreSQL connection; 0 turns it off.',
  },
  MONITOR_SPEND_MIN_TOKENS: {
    group: 'Security monitoring',
    schema: int(0, 1_000_000_000, 200_000),
    doc: 'Provider spend: a workspace must use at least this many tokens in an hour before its spend is compared with its baseline; 0 turns the rule off.',
  },
  MONITOR_SPEND_FACTOR: {
    group: 'Security monitoring',
    schema: int(2, 1_000, 5),
    doc: 'Provider spend: alert when a workspace uses this many times its mean hourly tokens of the previous 24 hours.',
  },
  MONITOR_RESPONSES: {
    group: 'Security monitoring',
    schema: z
      .string()
      .max(500)
      .default('')
      .refine(
        (v) => v.split(',').map((e) => e.trim()).filter(Boolean).every((e) => /^(credential_stuffing|enumeration|request_volume)=block_ip$|^api_key_many_ips=revoke_api_key$/.test(e)),
        'comma-separated rule=action pairs: credential_stuffing=block_ip, enumeration=block_ip, request_volume=block_ip, api_key_many_ips=revoke_api_key',
      ),
    doc: 'Automatic responses, off unless listed: `credential_stuffing=block_ip`, `enumeration=block_ip`, `request_volume=block_ip` (the address gets 403 ip_blocked for MONITOR_BLOCK_MINUTES), `api_key_many_ips=revoke_api_key`.',
  },
  MONITOR_BLOCK_MINUTES: {
    group: 'Security monitoring',
    schema: int(1, 10_080, 15),
    doc: 'How long a block_ip response blocks an address (or a /24, /48 network for network-wide stuffing).',
  },
  ALERT_DEDUP_MINUTES: {
    group: 'Security monitoring',
    schema: int(1, 10_080, 60),
    doc: 'A rule firing again for the same key within this time updates the open alert (count, last seen) instead of raising a new one.',
  },
  ALERT_SINK_MAX_PER_HOUR: {
    group: 'Security monitoring',
    schema: int(1, 100_000, 30),
    doc: 'Alerts each sink (email, webhook) delivers per hour at most; the rest are only logged and listed.',
  },
  ALERT_EMAIL_TO: {
    group: 'Security monitoring',
    schema: z.email().max(320).optional(),
    doc: 'Address that receives new alerts by mail (through SMTP_URL). Unset: no alert mail.',
    example: '',
  },
  ALERT_WEBHOOK_URL: {
    group: 'Security monitoring',
    schema: url(['http', 'https']).max(2_000).optional(),
    doc: 'URL that receives new alerts as a signed JSON POST (Bastion-Signature, like agent webhooks; through the SSRF guard, so a private address must be in OUTBOUND_ALLOW_PRIVATE_WEBHOOKS). Needs ALERT_WEBHOOK_SECRET.',
    example: '',
  },
  ALERT_WEBHOOK_SECRET: {
    group: 'Security monitoring',
    schema: z
      .string()
      .refine((v) => /^[\x21-\x7e]{32,512}$/.test(v), '32 to 512 printable characters without spaces (e.g. `openssl rand -hex 32`)')
      .optional(),
    doc: 'Secret the alert webhook is signed with (HMAC-SHA256); the receiver verifies with it.',
    example: '',
    secret: true,
  },
  ERASURE_GRACE_DAYS: {
    group: 'Privacy',
    schema: int(0, 90, 7),
    doc: 'Days between an account deletion request (DELETE /api/v1/me) and the erasure; the owner can cancel until then. 0 erases at the next privacy job run.',
  },
  PRIVACY_JOB_INTERVAL_SECONDS: {
    group: 'Privacy',
    schema: int(0, 86_400, 3_600),
    doc: 'How often each instance runs the erasure and retention jobs (safe on many instances at once); 0 turns the schedule off (run `bastion retention run` from cron instead).',
  },
  RETENTION_CONVERSATIONS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 0),
    doc: 'Delete conversations (and their messages) not updated for this many days; 0 keeps them forever.',
  },
  RETENTION_UPLOADS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 0),
    doc: 'Delete knowledge-base documents (originals, chunks) uploaded this many days ago; 0 keeps them forever.',
  },
  RETENTION_SECURITY_EVENTS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 365),
    doc: 'Delete security events older than this many days; 0 keeps them forever.',
  },
  RETENTION_AUDIT_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 0),
    doc: 'Audit log entries older than this many days are pseudonymised (never deleted: the chain must verify); 0 leaves them as they are.',
  },
  RETENTION_SESSIONS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 90),
    doc: 'Delete session records and sign-in history this many days after the session ended; 0 keeps them forever.',
  },
  RETENTION_EXPORTS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 30),
    doc: 'Delete data export records this many days after they were requested (archives themselves are gone after download or 24 h); 0 keeps the records forever.',
  },
  AUDIT_CHECKPOINT_EVERY: {
    group: 'Audit',
    schema: int(1, 1_000_000, 100),
    doc: 'Sign a checkpoint of the audit log every this many entries: entries cut off the end of the log up to a checkpoint are then detected by `bastion audit verify`.',
  },
  AUDIT_CHECKPOINT_MINUTES: {
    group: 'Audit',
    schema: int(0, 1_440, 10),
    doc: 'Also sign a checkpoint this often when entries were added since the last one; 0: only every AUDIT_CHECKPOINT_EVERY entries.',
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
  if (values.METRICS_PORT !== undefined && values.METRICS_PORT === values.PORT) problems.push('METRICS_PORT: must differ from PORT (metrics get a listener of their own)');
  if (values.ALERT_WEBHOOK_URL && !values.ALERT_WEBHOOK_SECRET) problems.push('ALERT_WEBHOOK_SECRET: ALERT_WEBHOOK_URL needs a secret to sign alerts with');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...values,
    PUBLIC_URL: (values.PUBLIC_URL ?? `http://${values.HOST}:${values.PORT}`).replace(/\/$/, ''),
    DATA_DIR: path.resolve(values.DATA_DIR),
    CORS_ORIGINS: corsOrigins,
    MASTER_KEYS: masterKeys,
    // The deprecated variable was set for a local model: it keeps working for providers only.
    OUTBOUND_ALLOW_PRIVATE_PROVIDERS: [...values.OUTBOUND_ALLOW_PRIVATE_PROVIDERS, ...values.OUTBOUND_ALLOW_PRIVATE],
  };
}

function describeIssue(error: z.ZodError, secret: boolean): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  // Zod messages may quote the received value; secrets get a fixed message instead.
  // Our own refinements' messages (code `custom`) never quote the value.
  if (secret) return issue.code === 'custom' ? issue.message : issue.code === 'invalid_format' ? 'not a valid URL of the expected kind' : 'invalid value';
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
