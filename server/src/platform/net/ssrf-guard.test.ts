import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { NetError } from './errors.js';
import { parseCidr, parseIp } from './ip-address.js';
import { addressPolicy, blockedAddressError, guardedLookup, isPublicAddress, parseAllowList, type AllowList } from './ssrf-guard.js';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.1',
    '198.18.0.1',
    '::',
    '::1',
    '0:0:0:0:0:0:0:1',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::1',
    '2002:7f00:1::',
    '2002:c0a8:101::1',
    '2001:db8::1',
    '2001::1',
    '100::1',
    'localhost',
    '',
    'not-an-ip',
    '2130706433',
    '0x7f.1',
    '127.1',
    '1.2.3',
  ])('refuses %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.253.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])('accepts %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('ip parsing', () => {
  it('reads every IPv6 spelling of one address as the same bytes', () => {
    const expected = parseIp('::ffff:127.0.0.1');
    expect(parseIp('::ffff:7f00:1')).toEqual(expected);
    expect(parseIp('0:0:0:0:0:ffff:7f00:0001')).toEqual(expected);
  });

  it('parses CIDRs and rejects bad prefixes', () => {
    expect(parseCidr('10.0.0.0/8')?.prefix).toBe(8);
    expect(parseCidr('::1')?.prefix).toBe(128);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0.0/x')).toBeNull();
  });
});

describe('parseAllowList', () => {
  it('reads host:port entries: names, addresses, ranges, bracketed IPv6, * for every port', () => {
    expect(parseAllowList('localhost:11434,127.0.0.1/32:80, LLM.Internal.:*\n[::1]:8080 10.0.0.0/8:443,[fd00::]/8:1,,')).toEqual([
      { kind: 'host', host: 'localhost', port: 11434 },
      { kind: 'range', range: '127.0.0.1/32', port: 80 },
      { kind: 'host', host: 'llm.internal', port: '*' },
      { kind: 'range', range: '::1', port: 8080 },
      { kind: 'range', range: '10.0.0.0/8', port: 443 },
      { kind: 'range', range: 'fd00::/8', port: 1 },
    ]);
    expect(parseAllowList('')).toEqual([]);
  });

  it('requires a port and names every bad entry', () => {
    expect(() => parseAllowList('localhost')).toThrow(/"localhost" has no port/);
    expect(() => parseAllowList('::1:8080')).toThrow(/brackets/);
    for (const bad of ['localhost:0', 'localhost:65536', 'localhost:', 'localhost:80x', '10.0.0.0/99:80', 'http://llm.internal', 'llm.internal/8:80']) {
      expect(() => parseAllowList(bad), bad).toThrow(RangeError);
    }
    expect(() => parseAllowList('a.internal,b.internal:1,c.internal')).toThrow(/"a\.internal"[\s\S]*"c\.internal"/);
  });

  it('reads the deprecated syntax (no port: every port) when asked to', () => {
    expect(parseAllowList('localhost,10.0.0.0/8 ::1 llm.internal:8080', { portOptional: true })).toEqual([
      { kind: 'host', host: 'localhost', port: '*' },
      { kind: 'range', range: '10.0.0.0/8', port: '*' },
      { kind: 'range', range: '::1', port: '*' },
      { kind: 'host', host: 'llm.internal', port: 8080 },
    ]);
  });

  it('allows by host and port, by range and port; IPv4 ranges cover their mapped IPv6 form', () => {
    const policy = addressPolicy(parseAllowList('llm.internal:11434,10.0.0.0/8:*,127.0.0.1:8080'));
    expect(policy('LLM.internal.', '192.168.1.1', 11434)).toBe(true);
    expect(policy('llm.internal', '192.168.1.1', 6379)).toBe(false);
    expect(policy('other.internal', '10.9.9.9', 5432)).toBe(true);
    expect(policy('other.internal', '::ffff:10.9.9.9', 1)).toBe(true);
    expect(policy('other.internal', '192.168.1.1', 11434)).toBe(false);
    expect(policy('127.0.0.1', '127.0.0.1', 8080)).toBe(true);
    expect(policy('127.0.0.1', '127.0.0.1', 6379)).toBe(false);
    expect(policy('other.internal', '8.8.8.8', 6379)).toBe(true);
  });

  it('names the refused host:port and the setting that would allow it', () => {
    const error = blockedAddressError('127.0.0.1', 6379, 'OUTBOUND_ALLOW_PRIVATE_TOOLS');
    expect(error.message).toBe('127.0.0.1:6379 is or resolves to a private, loopback or link-local address, which the network policy does not allow. To allow it, add 127.0.0.1:6379 to OUTBOUND_ALLOW_PRIVATE_TOOLS.');
    expect(error.blocked).toEqual({ host: '127.0.0.1', port: 6379, setting: 'OUTBOUND_ALLOW_PRIVATE_TOOLS' });
    const v6 = blockedAddressError('[::1]', 80, 'X');
    expect(v6.message).toContain('add [::1]:80 to X.');
    expect(v6.message).not.toContain('..');
    expect(v6.blocked).toEqual({ host: '::1', port: 80, setting: 'X' });
  });
});

/** A resolver returning fixed answers, standing in for DNS (a rebinding attacker's, say). */
function fakeResolver(answers: Record<string, LookupAddress[]>) {
  return (hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
    callback(null, answers[hostname] ?? []);
  };
}

function lookup(allow: AllowList, hostname: string, all: boolean, port = 443) {
  const resolve = fakeResolver({
    'rebind.example': [{ address: '127.0.0.1', family: 4 }],
    'metadata.example': [{ address: 'fd00:ec2::254', family: 6 }],
    'mixed.example': [
      { address: '10.0.0.5', family: 4 },
      { address: '93.184.216.34', family: 4 },
    ],
    'public.example': [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ],
  });
  return new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family: unknown }>((resolveResult) => {
    guardedLookup(addressPolicy(allow), { port, setting: 'OUTBOUND_ALLOW_PRIVATE_TEST' }, resolve)(hostname, { all }, (error, address, family) => resolveResult({ error, address, family }));
  });
}

describe('guardedLookup', () => {
  const none: AllowList = [];

  it('refuses a name that resolves to a private address [ASVS 1.3.6]', async () => {
    for (const host of ['rebind.example', 'metadata.example']) {
      const { error } = await lookup(none, host, false);
      expect(error).toBeInstanceOf(NetError);
      expect((error as NetError).code).toBe('blocked_address');
    }
  });

  it('passes public answers through, in both lookup shapes', async () => {
    expect(await lookup(none, 'public.example', false)).toMatchObject({ error: null, address: '93.184.216.34', family: 4 });
    const all = await lookup(none, 'public.example', true);
    expect(all.address).toHaveLength(2);
  });

  it('drops refused addresses from a mixed answer', async () => {
    expect(await lookup(none, 'mixed.example', true)).toMatchObject({ error: null, address: [{ address: '93.184.216.34', family: 4 }] });
  });

  it('allows a private answer when the name or the address is allow-listed on that port', async () => {
    expect((await lookup(parseAllowList('rebind.example:443'), 'rebind.example', false)).address).toBe('127.0.0.1');
    expect((await lookup(parseAllowList('127.0.0.0/8:*'), 'rebind.example', false)).address).toBe('127.0.0.1');
    expect((await lookup(parseAllowList('127.0.0.0/8:*'), 'metadata.example', false)).error).toBeInstanceOf(NetError);
    const otherPort = (await lookup(parseAllowList('rebind.example:443'), 'rebind.example', false, 6379)).error;
    expect(otherPort).toBeInstanceOf(NetError);
    expect(otherPort?.message).toContain('add rebind.example:6379 to OUTBOUND_ALLOW_PRIVATE_TEST.');
  });

  it('reports an empty answer as a resolution failure, not a refusal', async () => {
    const { error } = await lookup(none, 'nowhere.example', false);
    expect(error?.code).toBe('ENOTFOUND');
  });
});
