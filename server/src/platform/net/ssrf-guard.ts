/**
 * The SSRF guard: outbound requests (LLM providers, the `fetch_url` agent tool) must
 * not reach the host itself, the private network or cloud metadata endpoints unless
 * an administrator allow-listed them (a self-hosted model on `localhost`, say).
 *
 * The check runs inside the socket's DNS lookup, so the address judged is the address
 * connected to: resolving first and connecting later would let a DNS-rebinding host
 * answer "public" to the check and "127.0.0.1" to the connection.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { NetError } from './errors.js';
import { cidr, cidrContains, parseCidr, parseIp, unmapIPv4, type Cidr, type IpBytes } from './ip-address.js';

// Special-purpose IPv4 ranges (IANA registry) that are not globally reachable.
const BLOCKED_V4 = [
  '0.0.0.0/8', // "this network", includes the unspecified 0.0.0.0
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, includes cloud metadata 169.254.169.254
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation
  '192.88.99.0/24', // 6to4 relay anycast (deprecated)
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, includes broadcast 255.255.255.255
].map(cidr);

// IPv6 forms that carry an IPv4 address: judged by the address they carry.
const EMBEDS_V4_LAST = ['::ffff:0:0/96', '::/96', '64:ff9b::/96'].map(cidr); // mapped, compatible (incl. :: and ::1), NAT64
const SIX_TO_FOUR = cidr('2002::/16'); // IPv4 in bytes 2-5

// Only 2000::/3 is allocated for global unicast; everything outside it (loopback,
// unique-local fc00::/7 incl. fd00:ec2::254, link-local fe80::/10, multicast ff00::/8,
// local NAT64 64:ff9b:1::/48, ...) is refused. Inside it, these are not global:
const GLOBAL_V6 = cidr('2000::/3');
const BLOCKED_V6 = [
  '2001::/23', // IETF protocol assignments, incl. Teredo 2001::/32 and benchmarking
  '2001:db8::/32', // documentation
  '3fff::/20', // documentation
].map(cidr);

/** Addresses refused unless allow-listed: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10, incl. cloud metadata 169.254.169.254 and fd00:ec2::254), CGNAT 100.64/10, 0.0.0.0/8, multicast, broadcast, unspecified, IPv4-mapped/-compatible IPv6 forms of those (::ffff:127.0.0.1, also NAT64 64:ff9b::/96 forms), 6to4 of private. Anything unparsable is not public. */
export function isPublicAddress(ip: string): boolean {
  const bytes = parseIp(ip);
  return bytes !== null && isPublicBytes(bytes);
}

function isPublicBytes(bytes: IpBytes): boolean {
  if (bytes.length === 4) return !BLOCKED_V4.some((range) => cidrContains(range, bytes));
  if (EMBEDS_V4_LAST.some((range) => cidrContains(range, bytes))) return isPublicBytes(bytes.slice(12));
  if (cidrContains(SIX_TO_FOUR, bytes)) return isPublicBytes(bytes.slice(2, 6));
  return cidrContains(GLOBAL_V6, bytes) && !BLOCKED_V6.some((range) => cidrContains(range, bytes));
}

/** Destinations an administrator allows even though they are not public. */
export interface AllowList {
  /** Host names, lower-case, without a trailing dot: every address they resolve to is allowed. */
  hosts: string[];
  /** Address ranges (`10.0.0.0/8`) or single addresses (`127.0.0.1`). */
  cidrs: string[];
}

const HOSTNAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/**
 * Parses an admin setting like `"localhost,127.0.0.1/32,llm.internal"` (commas or
 * whitespace between entries). IP addresses and ranges go to `cidrs`, names to `hosts`.
 * Throws RangeError naming the first bad entry, so a typo is reported rather than
 * silently leaving a host blocked (or, worse, a range wider than meant).
 */
export function parseAllowList(value: string): AllowList {
  const allow: AllowList = { hosts: [], cidrs: [] };
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (parseCidr(entry)) allow.cidrs.push(entry);
    else if (HOSTNAME.test(normalizeHost(entry))) allow.hosts.push(normalizeHost(entry));
    else throw new RangeError(`Invalid allow-list entry "${raw}": expected a host name, an IP address or a CIDR range`);
  }
  return allow;
}

/** Lower-cased, brackets and trailing dot removed: `Example.COM.` and `example.com` are one host. */
function normalizeHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/\.+$/, '');
}

/** Decides whether a host name and one of its addresses may be connected to. */
export type AddressPolicy = (hostname: string, address: string) => boolean;

/** Compiles an allow list once (CIDRs parsed up front) into the guard's decision. */
export function addressPolicy(allow: AllowList): AddressPolicy {
  const hosts = new Set(allow.hosts.map(normalizeHost));
  const ranges = allow.cidrs.map(parseCidr).filter((range): range is Cidr => range !== null);
  return (hostname, address) => {
    if (hosts.has(normalizeHost(hostname))) return true;
    const bytes = parseIp(address);
    if (!bytes) return false;
    // An allowed IPv4 range also covers its IPv4-mapped IPv6 spelling.
    const v4 = unmapIPv4(bytes);
    if (ranges.some((range) => cidrContains(range, bytes) || (v4 !== null && cidrContains(range, v4)))) return true;
    return isPublicBytes(bytes);
  };
}

/** The error for a refused destination; names the host but not the URL (which may hold secrets). */
export function blockedAddressError(hostname: string): NetError {
  return new NetError(
    'blocked_address',
    `Refusing to connect to ${normalizeHost(hostname)}: it is or resolves to a private, loopback or link-local address that is not allow-listed`,
  );
}

type Resolver = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A dns.lookup-compatible function for undici's connect option that resolves, then refuses (NetError blocked_address) any resolved address that is not public unless the hostname or the address is allow-listed. Checking the address actually connected to (not a pre-resolution) defeats DNS rebinding.
 *
 * Refused addresses are dropped from the answer and the lookup fails only when none is
 * left: the socket connects only to what this returns, so the survivors are safe, and a
 * name like `localhost` (127.0.0.1 and ::1) still works when only 127.0.0.1 is allowed.
 *
 * Node skips the lookup for IP-literal hosts, so callers must check literals themselves.
 * @param resolve injectable for tests; defaults to dns.lookup
 */
export function guardedLookup(allow: AllowList, resolve: Resolver = dnsLookup): LookupFunction {
  const permitted = addressPolicy(allow);
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      if (addresses.length === 0) return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      const safe = addresses.filter((entry) => permitted(hostname, entry.address));
      const first = safe[0];
      if (!first) return callback(blockedAddressError(hostname), []);
      if (options.all) callback(null, safe);
      else callback(null, first.address, first.family);
    });
  };
}
