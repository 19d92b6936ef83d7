/**
 * Checks a URL before anything is sent to it. Host names are judged later, at
 * connect time, by the guarded lookup; IP literals never reach a lookup (Node connects
 * to them directly), so they are judged here (and again by the connector).
 */
import { NetError } from './errors.js';
import { parseIp } from './ip-address.js';
import { blockedAddressError, type AddressPolicy } from './ssrf-guard.js';

/** The port a URL connects to: its own, or its scheme's default. */
export function targetPort(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/**
 * Parses `url` (relative to `base` when given) and returns it when it is http(s),
 * carries no credentials, and is not an IP literal the policy refuses on its port (the
 * refusal names `setting`).
 * WHATWG parsing has already turned `http://2130706433/` and `http://0x7f.1/` into
 * `127.0.0.1`, so those odd spellings are caught as the literals they are.
 */
export function checkTarget(url: string | URL, policy: AddressPolicy, setting: string, base?: URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch {
    throw new NetError('invalid_url', 'The URL is not valid');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new NetError('invalid_url', 'Only http and https URLs are allowed');
  }
  // Credentials in a URL end up in logs and error reports; they belong in headers.
  if (parsed.username !== '' || parsed.password !== '') {
    throw new NetError('invalid_url', 'URLs must not contain a user name or password');
  }
  const host = parsed.hostname;
  const port = targetPort(parsed);
  if (parseIp(host) !== null && !policy(host, host, port)) throw blockedAddressError(host, port, setting);
  return parsed;
}
