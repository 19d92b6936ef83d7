/** The `Agents and providers` group. LLM provider calls and the private destinations outbound requests may reach, per purpose. */
import { z } from 'zod';
import { allowList, type Variable } from '../variable.js';

export const providersVariables = {
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
    doc: "Time an LLM provider has to start answering: from sending the request until the response headers arrive, connecting (at most 10 s) and retries (PROVIDER_MAX_RETRIES) included; a timeout is not retried. Once the answer streams, a gap of more than 30 s between two chunks ends it (a fixed idle timeout), and the whole answer is bounded by the agent's limits.maxWallTimeMs (default 120 s). The first two end the call with provider_timeout, the last with max_wall_time.",
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
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(3_600),
    doc: 'Lifetime of cached answers to deterministic requests (temperature 0, same model and messages), per workspace; 0 disables the cache. Agents can opt out.',
  },
} satisfies Record<string, Variable>;
