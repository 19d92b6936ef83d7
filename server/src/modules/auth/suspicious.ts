/**
 * Suspicious sign-in scoring: each successful sign-in is compared with the account's
 * history. Above the threshold the owner gets a "new sign-in" mail with a one-click
 * "this wasn't me" link, and a security event is recorded.
 */
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { Db } from '../../platform/db/database.js';

export const SUSPICIOUS_THRESHOLD = 3;

export type SignInReason = 'new_device' | 'new_network' | 'unusual_hour' | 'after_failures' | 'many_accounts_from_ip';

const WEIGHTS: Record<SignInReason, number> = {
  new_device: 2,
  new_network: 2,
  unusual_hour: 1,
  after_failures: 2,
  many_accounts_from_ip: 2,
};

/** IPv4 /24 or IPv6 /48: "the same network" for a person moving between addresses. */
export function networkOf(ip: string): string {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  const groups = ip.split('::')[0]!.split(':');
  return `${[...groups, '0', '0', '0'].slice(0, 3).join(':')}::/48`;
}

export function deviceOf(userAgent: string): string {
  return createHash('sha256').update(userAgent).digest('hex').slice(0, 16);
}

export interface SignInFacts {
  device: string;
  network: string;
  hour: number;
  failuresBefore: number;
  otherAccountsFromIp: number;
  history: { devices: string[]; networks: string[]; hours: number[] };
}

export function scoreSignIn(facts: SignInFacts): { score: number; reasons: SignInReason[] } {
  const reasons: SignInReason[] = [];
  const { history } = facts;
  if (history.devices.length > 0) {
    if (!history.devices.includes(facts.device)) reasons.push('new_device');
    if (!history.networks.includes(facts.network)) reasons.push('new_network');
  }
  // With some history, an hour more than 2 h away from every past sign-in is unusual.
  if (history.hours.length >= 5 && !history.hours.some((h) => Math.min(Math.abs(h - facts.hour), 24 - Math.abs(h - facts.hour)) <= 2)) {
    reasons.push('unusual_hour');
  }
  if (facts.failuresBefore >= 3) reasons.push('after_failures');
  if (facts.otherAccountsFromIp >= 3) reasons.push('many_accounts_from_ip');
  return { score: reasons.reduce((sum, r) => sum + WEIGHTS[r], 0), reasons };
}

/** The facts the database knows: the last 50 sign-ins and other accounts seen from the IP in 24 h. */
export async function loadSignInHistory(db: Db, userId: string, ip: string, now: Date): Promise<{ history: SignInFacts['history']; otherAccountsFromIp: number }> {
  const recent = await db.selectFrom('sign_ins').select(['device', 'network', 'hour']).where('user_id', '=', userId).orderBy('at', 'desc').limit(50).execute();
  const since = new Date(now.getTime() - 24 * 60 * 60 * 1000);
  const others = await db
    .selectFrom('sign_ins')
    .select((eb) => eb.fn.count<string>('user_id').distinct().as('n'))
    .where('ip', '=', ip)
    .where('at', '>', since)
    .where('user_id', '<>', userId)
    .executeTakeFirstOrThrow();
  return {
    history: { devices: recent.map((r) => r.device), networks: recent.map((r) => r.network), hours: recent.map((r) => r.hour) },
    otherAccountsFromIp: Number(others.n),
  };
}
