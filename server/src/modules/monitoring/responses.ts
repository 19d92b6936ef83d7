/**
 * Automatic responses, each switched on per rule in MONITOR_RESPONSES (all off by
 * default): block an address (or a /24, /48 network) for MONITOR_BLOCK_MINUTES — every
 * /api request from it gets 403 ip_blocked, checked before authentication and rate
 * limiting — or revoke the API key a rule fired for.
 *
 * "Require MFA at next sign-in" is not offered: accounts with a second factor already
 * need it at every sign-in, and for an account without one there is nothing to require
 * that a password thief could not enrol themselves; the owner is mailed on lockouts and
 * suspicious sign-ins instead (auth module).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isApiRoute } from '../../http/access.js';
import { sendError } from '../../http/errors-plugin.js';
import { AppError, retryLater } from '../../errors.js';
import type { Store } from '../../platform/store/store.js';
import type { ApiKeyService } from '../api-keys/service.js';
import { networkOf } from '../auth/suspicious.js';
import type { SecurityEventSink } from '../security-events/service.js';

export type ResponseAction = 'block_ip' | 'revoke_api_key';

/** `rule=action` pairs (validated by the config schema). */
export function parseResponses(value: string): Map<string, ResponseAction> {
  const actions = new Map<string, ResponseAction>();
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [rule, action] = entry.split('=');
    if (rule && (action === 'block_ip' || action === 'revoke_api_key')) actions.set(rule, action);
  }
  return actions;
}

export interface ResponseTarget {
  ip?: string | undefined;
  /** Block the address's whole /24 or /48 network. */
  network?: boolean;
  apiKey?: { id: string; userId: string } | undefined;
}

const blockKey = (scope: 'ip' | 'net', value: string) => `mon:block:${scope}:${value}`;
const plain = (ip: string) => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);

export class Responder {
  constructor(private readonly deps: { store: Store; events: SecurityEventSink; apiKeys: ApiKeyService; actions: Map<string, ResponseAction>; blockMs: number }) {}

  /** Applies the action configured for `rule`, if any, to `target`. */
  async respond(rule: string, target: ResponseTarget): Promise<void> {
    const action = this.deps.actions.get(rule);
    if (action === 'block_ip' && target.ip) {
      const scope = target.network ? 'net' : 'ip';
      const value = target.network ? networkOf(target.ip) : plain(target.ip);
      await this.deps.store.set(blockKey(scope, value), '1', { ttlMs: this.deps.blockMs });
      await this.deps.events.record({ type: 'monitor.response', ip: target.ip, details: { rule, action, key: `${scope}:${value}`, minutes: Math.round(this.deps.blockMs / 60_000) } });
    }
    if (action === 'revoke_api_key' && target.apiKey) {
      if (await this.deps.apiKeys.revoke(target.apiKey.userId, target.apiKey.id, 'monitor')) {
        await this.deps.events.record({ type: 'monitor.response', userId: target.apiKey.userId, details: { rule, action, key: `api_key:${target.apiKey.id}` } });
      }
    }
  }
}

/** Milliseconds the address stays blocked, or null. */
export async function blockedFor(store: Store, ip: string): Promise<number | null> {
  const address = plain(ip);
  const [own, network] = await Promise.all([store.ttl(blockKey('ip', address)), store.ttl(blockKey('net', networkOf(address)))]);
  const remaining = Math.max(own ?? -2, network ?? -2);
  return remaining === -2 ? null : remaining;
}

/** onRequest hook: 403 ip_blocked for API requests from a blocked address. */
export function ipBlockHook(store: Store) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (!isApiRoute(request)) return undefined;
    const remaining = await blockedFor(store, request.ip);
    if (remaining === null) return undefined;
    const error =
      remaining > 0
        ? retryLater('ip_blocked', (wait) => `Requests from your network are blocked after suspicious activity; try again ${wait} or contact the administrator.`, remaining)
        : new AppError('ip_blocked', 'Requests from your network are blocked after suspicious activity; contact the administrator.');
    return sendError(request, reply, error); // returning the reply ends the hook chain
  };
}
