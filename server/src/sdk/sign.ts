/**
 * Bastion request signatures — a dependency-free helper for clients (and for Bastion's
 * own outbound webhooks). Copy this file into a client, or import it.
 *
 * Canonical string (each part on its own line, joined with "\n"):
 *
 *   <t: unix seconds>
 *   <METHOD, upper case>
 *   <path, as sent, without the query>
 *   <query: parameters sorted by name then value, each name=value percent-encoded (RFC 3986), joined with "&">
 *   <lower-case hex SHA-256 of the raw body bytes (of "" when there is no body)>
 *
 * Header: `Bastion-Signature: t=<t>, v1=<hex HMAC-SHA256(secret, canonical string)>`.
 * A receiver accepts a signature made within 5 minutes and only once.
 */
import { createHash, createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'bastion-signature';

function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical query: sorted by name then value, RFC 3986 encoded. */
export function canonicalQuery(search: string): string {
  const pairs = [...new URLSearchParams(search)].map(([name, value]) => [encode(name), encode(value)] as const);
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

export function canonicalString(input: { timestamp: number; method: string; url: string; body?: string | Uint8Array }): string {
  const parsed = new URL(input.url, 'http://placeholder');
  const digest = createHash('sha256')
    .update(input.body ?? '')
    .digest('hex');
  return [String(input.timestamp), input.method.toUpperCase(), parsed.pathname, canonicalQuery(parsed.search), digest].join('\n');
}

export function computeSignature(secret: string, canonical: string): string {
  return createHmac('sha256', secret).update(canonical).digest('hex');
}

/**
 * Signs a request: returns the value of the Bastion-Signature header.
 * `url` is the path and query as sent (`/api/v1/hooks/agents/…?x=1`) or a full URL.
 */
export function signRequest(secret: string, request: { method: string; url: string; body?: string | Uint8Array }, now: Date = new Date()): string {
  const timestamp = Math.floor(now.getTime() / 1000);
  return `t=${timestamp}, v1=${computeSignature(secret, canonicalString({ ...request, timestamp }))}`;
}

/** Parses `t=…, v1=…[, v1=…]`; undefined when malformed. */
export function parseSignatureHeader(header: string): { timestamp: number; signatures: string[] } | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0 || signatures.length > 4) return undefined;
  return { timestamp, signatures };
}
