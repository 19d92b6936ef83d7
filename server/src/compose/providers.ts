/**
 * The providers plugin: connections to LLM providers (the workspace's own, keys sealed),
 * reached through the providers outbound client and a circuit breaker per connection.
 * `providerResolver` is shared with `bastion worker`, which embeds with the same guards.
 */
import fp from 'fastify-plugin';
import type { Config } from '../config/index.js';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { ProviderResolver, type ProviderCacheOptions } from '../modules/providers/resolver.js';
import { providerRoutes } from '../modules/providers/routes.js';
import { ProviderService } from '../modules/providers/service.js';
import type { Encryptor } from '../platform/crypto/envelope.js';
import type { Db } from '../platform/db/database.js';
import { observeProviders } from '../platform/metrics/providers.js';
import { BreakerRegistry } from '../platform/net/circuit-breaker.js';
import type { OutboundClients } from '../platform/net/outbound-clients.js';

/** The resolver of provider connections: sealed keys opened, breakers per connection, the settings' timeouts and retries. */
export function providerResolver(config: Config, db: Db, encryptor: Encryptor, outbound: OutboundClients, cache?: ProviderCacheOptions): ProviderResolver {
  const breakers = new BreakerRegistry({ failureThreshold: config.PROVIDER_BREAKER_THRESHOLD, cooldownMs: config.PROVIDER_BREAKER_COOLDOWN_MS });
  return new ProviderResolver(db, encryptor, outbound.providers, breakers, { timeoutMs: config.PROVIDER_TIMEOUT_MS, maxRetries: config.PROVIDER_MAX_RETRIES }, cache);
}

export interface Providers {
  providers: ProviderService;
  resolver: ProviderResolver;
}

declare module 'fastify' {
  interface FastifyInstance {
    providers: Providers;
  }
}

export const providers = fp(
  async (app: App) => {
    const { config, db, clock, encryptor, outbound, metrics, store, cacheStats } = app.core;
    // Cached per instance; a change on any instance drops it everywhere (ProviderService.update/delete).
    const resolver = observeProviders(providerResolver(config, db, encryptor, outbound, { store, stats: cacheStats, now: () => clock.now().getTime() }), metrics);
    app.addHook('onClose', () => resolver.close());
    const providers = new ProviderService(db, encryptor, clock, app.workspaces.workspaces, resolver, app.accounts.audit);
    await app.register(providerRoutes(providers), { prefix: API_PREFIX });
    app.decorate('providers', { providers, resolver });
  },
  { name: 'bastion-providers', fastify: '5.x', dependencies: ['bastion-core', 'bastion-accounts', 'bastion-workspaces'] },
);
