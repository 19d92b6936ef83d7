/**
 * Redaction before anything is stored or logged (ASVS 16.2.5, 16.4.1): only the detail
 * keys the catalog lists for the type survive; values are plain scalars or short string
 * lists, stripped of control characters (no forged log lines) and cut to a bounded length.
 * A value shaped like a credential is replaced even under an allowed key, as a second net.
 */
import { EVENT_CATALOG, type SecurityEventType } from './types.js';

const MAX_STRING = 200;
const MAX_LIST = 20;
// Bastion's own token prefixes, JWT/JWS compact form, PEM blocks.
const CREDENTIAL = /(^|[^a-z])bst_[a-z]+_|^ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.|-----BEGIN /i;

export const REDACTED = '[REDACTED]';

export function cleanText(value: string, max = MAX_STRING): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').slice(0, max);
}

function cleanValue(value: unknown): unknown {
  if (typeof value === 'string') return CREDENTIAL.test(value) ? REDACTED : cleanText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean' || value === null) return value;
  if (Array.isArray(value)) {
    return value
      .filter((item): item is string => typeof item === 'string')
      .slice(0, MAX_LIST)
      .map((item) => (CREDENTIAL.test(item) ? REDACTED : cleanText(item)));
  }
  return undefined; // nested objects are never kept: they are where secrets hide
}

/** The allowed, cleaned details of an event of `type`. */
export function redactDetails(type: SecurityEventType, details: object | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!details) return out;
  const fields: readonly string[] = EVENT_CATALOG[type].fields;
  for (const key of fields) {
    if (!Object.hasOwn(details, key)) continue;
    const value = cleanValue((details as Record<string, unknown>)[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
