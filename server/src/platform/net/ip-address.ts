/**
 * IP addresses as bytes, and CIDR ranges over them. The SSRF guard compares bytes
 * rather than strings because one address has many spellings (`::ffff:7f00:1` and
 * `::ffff:127.0.0.1`, `0:0::1` and `::1`), and a string check misses some of them.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 4 bytes for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

export interface Cidr {
  bytes: IpBytes;
  prefix: number;
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address (brackets and a `%zone` suffix are
 * accepted and dropped). Returns null for anything else, including the legacy
 * decimal/octal/hex IPv4 spellings: WHATWG URL parsing has already normalised those
 * for URLs, and anything else reaching here unnormalised is not an address we trust.
 */
export function parseIp(text: string): IpBytes | null {
  let value = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = value.indexOf('%');
  if (zone >= 0 && value.includes(':')) value = value.slice(0, zone);
  if (isIPv4(value)) return Uint8Array.from(value.split('.').map(Number));
  if (isIPv6(value)) return parseIPv6(value);
  return null;
}

// Only called on strings node:net has validated as IPv6, so the shape is known.
function parseIPv6(value: string): IpBytes {
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          // An embedded IPv4 tail (`::ffff:1.2.3.4`) fills the last two words.
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = value.indexOf('::');
  let all: number[];
  if (gap < 0) {
    all = words(value);
  } else {
    const left = words(value.slice(0, gap));
    const right = words(value.slice(gap + 2));
    all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  const bytes = new Uint8Array(16);
  all.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

/** Parses `address/prefix`, or a bare address as a single-address range. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.lastIndexOf('/');
  const bytes = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, prefix: max };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= max ? { bytes, prefix } : null;
}

/** True when `address` lies in `range` (both of the same IP version). */
export function cidrContains(range: Cidr, address: IpBytes): boolean {
  if (range.bytes.length !== address.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((range.bytes[i] ?? 0) & mask) !== ((address[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Builds a range from a literal, for the tables of reserved ranges. Throws on a typo. */
export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad CIDR literal ${text}`);
  return parsed;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else null. */
export function unmapIPv4(address: IpBytes): IpBytes | null {
  return address.length === 16 && cidrContains(MAPPED, address) ? address.slice(12) : null;
}

const MAPPED = cidr('::ffff:0:0/96');
