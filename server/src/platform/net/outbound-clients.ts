/**
 * One outbound client per purpose, each with only its own allowance of private
 * destinations (`OUTBOUND_ALLOW_PRIVATE_<PURPOSE>`). Built once by `bastion serve`
 * (app.ts) and `bastion worker`; modules are handed the client of their purpose.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { OutboundHttp } from './outbound.js';
import { ALLOW_SETTINGS, type OutboundPurpose } from './purposes.js';

export type OutboundClients = { readonly [P in OutboundPurpose]: OutboundHttp<P> } & {
  /** Closes every client's pooled connections. */
  close(): Promise<void>;
};

/** The allowances, by purpose; loadConfig has already added the deprecated OUTBOUND_ALLOW_PRIVATE to the providers'. */
export type OutboundConfig = Pick<Config, (typeof ALLOW_SETTINGS)[OutboundPurpose] | 'OUTBOUND_ALLOW_PRIVATE'>;

/** Builds the five clients; warns when the deprecated OUTBOUND_ALLOW_PRIVATE is set. */
export function createOutboundClients(config: OutboundConfig, logger: Pick<Logger, 'warn'>, connectTimeoutMs?: number): OutboundClients {
  if (config.OUTBOUND_ALLOW_PRIVATE.length > 0) {
    logger.warn(
      'OUTBOUND_ALLOW_PRIVATE is deprecated and now applies to LLM provider connections only (every port of each entry); move it to OUTBOUND_ALLOW_PRIVATE_PROVIDERS as host:port entries, and allow other purposes with OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE, _TOOLS, _WEBHOOKS or _SSO',
    );
  }
  const client = <P extends OutboundPurpose>(purpose: P): OutboundHttp<P> => new OutboundHttp({ purpose, allow: config[ALLOW_SETTINGS[purpose]], ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}) });
  const clients = { providers: client('providers'), knowledge: client('knowledge'), tools: client('tools'), webhooks: client('webhooks'), sso: client('sso') };
  return {
    ...clients,
    close: async () => {
      await Promise.all(Object.values(clients).map((http) => http.close()));
    },
  };
}
