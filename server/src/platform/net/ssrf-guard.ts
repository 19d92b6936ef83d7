/**
 * The SSRF guard: outbound requests (LLM providers, the `fetch_url` agent tool, knowledge
 * URLs, webhooks, workspace SSO) must not reach the host itself, the private network or
 * cloud metadata endpoints unless an administrator allow-listed that host and port for
 * that purpose (a self-hosted model on `localhost:11434` for providers, say).
 *
 * The check runs inside the socket's DNS lookup, so the address judged is the address
 * connected to: resolving first and connecting later would let a DNS-rebinding host
 * answer "public" to the check and "127.0.0.1" to the connection.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { NetError } from './errors.js';
import { cidr, cidrContains, parseCidr, parseIp, unmapIPv4, type IpBytes } from './ip-address.js';

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

/** A port an allowance covers: one port, or `*` for every port. */
export type AllowedPort = number | '*';

/** One destination an administrator allows although it is not public, on one port (or all). */
export type AllowEntry =
  /** A host name, lower-case, without a trailing dot: every address it resolves to is allowed. */
  | { kind: 'host'; host: string; port: AllowedPort }
  /** An address range (`10.0.0.0/8`) or a single address (`127.0.0.1`, `::1`). */
  | { kind: 'range'; range: string; port: AllowedPort };

/** The allowances of one outbound purpose (see purposes.ts). */
export type AllowList = readonly AllowEntry[];

const HOSTNAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const PORT = /^[1-9][0-9]{0,4}$/;

export interface ParseAllowListOptions {
  /**
   * The deprecated `OUTBOUND_ALLOW_PRIVATE` syntax: entries may omit the port, which
   * then means every port (and bare IPv6 addresses like `::1` are accepted).
   */
  portOptional?: boolean;
}

/**
 * Parses an admin setting like `"localhost:11434, 10.0.5.0/24:443, [::1]:8080, llm.internal:*"`
 * (commas or whitespace between entries). Each entry is a host name, an IP address or a
 * CIDR range (IPv6 in brackets), then `:port` or `:*` for every port. The port is
 * required: allowing a host for one service must not open its database port too.
 * Throws RangeError naming every bad entry, so a typo is reported rather than silently
 * leaving a host blocked (or, worse, a range wider than meant).
 */
export function parseAllowList(value: string, options: ParseAllowListOptions = {}): AllowList {
  const entries: AllowEntry[] = [];
  const bad: string[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    if (raw === '') continue;
    const entry = (options.portOptional ? parseLegacyEntry(raw) : null) ?? parseEntry(raw);
    if (typeof entry === 'string') bad.push(entry);
    else entries.push(entry);
  }
  if (bad.length > 0) throw new RangeError(bad.join('; '));
  return entries;
}

/** `target:port` → an entry, or a message saying what is wrong with it. */
function parseEntry(raw: string): AllowEntry | string {
  const text = raw.toLowerCase();
  const colon = text.lastIndexOf(':');
  const portText = colon < 0 ? '' : text.slice(colon + 1);
  let target = colon < 0 ? text : text.slice(0, colon);
  if (colon < 0 || (target.includes(':') && !target.startsWith('['))) {
    return `"${raw}" has no port: write host:port (e.g. localhost:11434), or host:* for every port; IPv6 in brackets ([::1]:11434)`;
  }
  const port: AllowedPort | null = portText === '*' ? '*' : PORT.test(portText) && Number(portText) <= 65_535 ? Number(portText) : null;
  if (port === null) return `"${raw}" has an invalid port (expected 1-65535 or *)`;
  // `[fd00::/8]` and `[fd00::]/8` both name an IPv6 range.
  const bracketed = /^\[([^\]]+)\](\/\d+)?$/.exec(target);
  if (bracketed) target = `${bracketed[1]}${bracketed[2] ?? ''}`;
  if (parseCidr(target)) return { kind: 'range', range: target, port };
  if (!bracketed && HOSTNAME.test(normalizeHost(target))) return { kind: 'host', host: normalizeHost(target), port };
  return `"${raw}" is not a host name, an IP address or a CIDR range followed by :port`;
}

/** The old syntax: a host, an address or a range without a port, meaning every port. */
function parseLegacyEntry(raw: string): AllowEntry | null {
  const text = raw.toLowerCase();
  if (parseCidr(text)) return { kind: 'range', range: text, port: '*' };
  if (!text.includes(':') && HOSTNAME.test(normalizeHost(text))) return { kind: 'host', host: normalizeHost(text), port: '*' };
  return null;
}

/** Lower-cased, brackets and trailing dot removed: `Example.COM.` and `example.com` are one host. */
function normalizeHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/\.+$/, '');
}

/** Decides whether a host name, one of its addresses and the port may be connected to. */
export type AddressPolicy = (hostname: string, address: string, port: number) => boolean;

/** Compiles an allow list once (CIDRs parsed up front) into the guard's decision. */
export function addressPolicy(allow: AllowList): AddressPolicy {
  const compiled = allow.map((entry) => (entry.kind === 'host' ? { port: entry.port, host: entry.host, range: null } : { port: entry.port, host: null, range: parseCidr(entry.range) }));
  return (hostname, address, port) => {
    const bytes = parseIp(address);
    if (!bytes) return false;
    if (isPublicBytes(bytes)) return true;
    const name = normalizeHost(hostname);
    // An allowed IPv4 range also covers its IPv4-mapped IPv6 spelling.
    const v4 = unmapIPv4(bytes);
    return compiled.some((entry) => (entry.port === '*' || entry.port === port) && (entry.host !== null ? entry.host === name : entry.range !== null && (cidrContains(entry.range, bytes) || (v4 !== null && cidrContains(entry.range, v4)))));
  };
}

/** `host:port`, with IPv6 addresses in brackets. */
function hostPort(hostname: string, port: number): string {
  const host = normalizeHost(hostname);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The error for a refused destination. Names the host and port (never the URL, which
 * may hold secrets) and the setting that would allow it. It is decided before any
 * connection is attempted, so it reads the same whether the port is open or closed.
 */
export function blockedAddressError(hostname: string, port: number, setting: string): NetError {
  const target = hostPort(hostname, port);
  return new NetError('blocked_address', `${target} is or resolves to a private, loopback or link-local address, which the network policy does not allow. To allow it, add ${target} to ${setting}.`, {
    blocked: { host: normalizeHost(hostname), port, setting },
  });
}

/** Where a guarded lookup is connecting to: the port judged with the address, and the setting named in a refusal. */
export interface GuardedDestination {
  port: number;
  setting: string;
}

type Resolver = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A dns.lookup-compatible function for one port of undici's connector that resolves, then refuses (NetError blocked_address) any resolved address that is not public unless the policy allows the hostname or the address on that port. Checking the address actually connected to (not a pre-resolution) defeats DNS rebinding.
 *
 * Refused addresses are dropped from the answer and the lookup fails only when none is
 * left: the socket connects only to what this returns, so the survivors are safe, and a
 * name like `localhost` (127.0.0.1 and ::1) still works when only 127.0.0.1 is allowed.
 *
 * Node skips the lookup for IP-literal hosts, so callers must check literals themselves.
 * @param resolve injectable for tests; defaults to dns.lookup
 */
export function guardedLookup(permitted: AddressPolicy, destination: GuardedDestination, resolve: Resolver = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      if (addresses.length === 0) return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      const safe = addresses.filter((entry) => permitted(hostname, entry.address, destination.port));
      const first = safe[0];
      if (!first) return callback(blockedAddressError(hostname, destination.port, destination.setting), []);
      if (options.all) callback(null, safe);
      else callback(null, first.address, first.family);
    });
  };
}
