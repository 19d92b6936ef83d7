/** The `Security monitoring` group. Detection rules, automatic responses and alert delivery. */
import { z } from 'zod';
import { int, url, type Variable } from '../variable.js';

export const securityMonitoringVariables = {
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
        (v) =>
          v
            .split(',')
            .map((e) => e.trim())
            .filter(Boolean)
            .every((e) => /^(credential_stuffing|enumeration|request_volume)=block_ip$|^api_key_many_ips=revoke_api_key$/.test(e)),
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
    // Chat webhooks (Slack, Teams) carry their credential in the path.
    secret: true,
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
} satisfies Record<string, Variable>;
