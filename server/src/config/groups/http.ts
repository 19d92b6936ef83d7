/** The `HTTP` group. HTTP hardening: body and header limits, timeouts, proxies, load shedding, rate limits, CORS. */
import { z } from 'zod';
import { int, type Variable } from '../variable.js';

export const httpVariables = {
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
    schema: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
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
} satisfies Record<string, Variable>;
