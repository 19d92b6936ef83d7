/**
 * Builds the LLM provider for a workspace's connection: decrypts its key and routes every
 * request through platform/net (SSRF guard, timeout, retries, a circuit breaker per
 * connection). Shared by the API (chat, retrieval) and `bastion worker` (embeddings).
 */
import { AppError } from '../../errors.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { FetchLike } from '../../platform/llm/http.js';
import { createProvider } from '../../platform/llm/index.js';
import type { LlmProvider } from '../../platform/llm/types.js';
import type { BreakerRegistry, CircuitBreaker } from '../../platform/net/circuit-breaker.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import type { CacheStats } from '../../platform/store/cache.js';
import { LocalCache } from '../../platform/store/local-cache.js';
import type { Store } from '../../platform/store/store.js';
import * as repo from './repo.js';

export interface ProviderCallSettings {
  timeoutMs: number;
  maxRetries: number;
}

/** What a provider is built from: a saved connection's row, or settings about to be saved. */
export interface ConnectionSettings {
  kind: repo.ConnectionRow['kind'];
  baseUrl: string;
  apiKey?: string | undefined;
}

export const credentialsBinding = (id: string) => ({ table: 'provider_connections', column: 'credentials', rowId: id });

/**
 * How long an instance reuses a connection's provider (base URL, opened key) without reading
 * the row again. A change or deletion drops it on every instance before it answers
 * (`forget`), so this bounds nothing a person can see; it saves a query and a decryption per
 * answer.
 */
export const PROVIDER_CACHE_TTL_MS = 30_000;
const PROVIDER_CACHE_ENTRIES = 1_000;

export interface ProviderCacheOptions {
  store: Store;
  stats?: CacheStats | undefined;
  now?: () => number;
}

export class ProviderResolver {
  private readonly extractive: LlmProvider = createProvider('extractive', { fetch: () => Promise.reject(new Error('the extractive provider makes no calls')) });
  /** Providers of saved connections by workspace and id; none without a store (`bastion worker`). */
  private readonly cache: LocalCache<LlmProvider> | undefined;

  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly outbound: OutboundHttp<'providers'>,
    readonly breakers: BreakerRegistry,
    readonly settings: ProviderCallSettings,
    cache?: ProviderCacheOptions,
  ) {
    this.cache = cache ? new LocalCache(cache.store, 'provider_connection', { ttlMs: PROVIDER_CACHE_TTL_MS, maxEntries: PROVIDER_CACHE_ENTRIES, stats: cache.stats, ...(cache.now ? { now: cache.now } : {}) }) : undefined;
  }

  /** The provider for a call; `null` is the built-in extractive provider. */
  async providerFor(workspaceId: string, connectionId: string | null): Promise<LlmProvider> {
    if (connectionId === null) return this.extractive;
    const load = async (): Promise<LlmProvider | null> => {
      const row = await repo.findConnection(this.db, workspaceId, connectionId);
      if (!row) return null;
      const apiKey = await this.apiKeyOf(row);
      return this.build({ kind: row.kind, baseUrl: row.base_url, apiKey }, this.breakers.get(row.id));
    };
    const provider = this.cache ? await this.cache.getOrLoad(cacheKey(workspaceId, connectionId), load) : await load();
    if (!provider) throw new AppError('not_found', 'The provider connection no longer exists.');
    return provider;
  }

  /** Drops the connection's provider here and on every instance: call after changing or deleting it, before answering. */
  async forget(workspaceId: string, connectionId: string): Promise<void> {
    await this.cache?.invalidate(cacheKey(workspaceId, connectionId));
  }

  /** Stops listening for other instances' invalidations. */
  async close(): Promise<void> {
    await this.cache?.close();
  }

  /**
   * A provider for settings not saved yet (tried before a save). Same guard, timeouts and
   * retries, but no circuit breaker: the settings have no history, and one failed try must
   * not pause the saved connection's calls.
   */
  providerForSettings(settings: ConnectionSettings): LlmProvider {
    return this.build(settings, undefined);
  }

  /** The saved connection's key, opened; undefined when it has none. */
  async apiKeyOf(row: repo.ConnectionRow): Promise<string | undefined> {
    return row.credentials ? this.encryptor.decryptText(credentialsBinding(row.id), row.credentials) : undefined;
  }

  private build(settings: ConnectionSettings, breaker: CircuitBreaker | undefined): LlmProvider {
    // PROVIDER_TIMEOUT_MS bounds each attempt in the fetch and, as the first-byte timeout, the whole wait for the headers.
    return createProvider(settings.kind, { baseUrl: settings.baseUrl, ...(settings.apiKey ? { apiKey: settings.apiKey } : {}), fetch: this.fetchFor(breaker), firstByteTimeoutMs: this.settings.timeoutMs });
  }

  private fetchFor(breaker: CircuitBreaker | undefined): FetchLike {
    return (url, init) => this.outbound.request(url, { ...init, timeoutMs: this.settings.timeoutMs, maxRetries: this.settings.maxRetries, ...(breaker ? { breaker } : {}) });
  }
}

const cacheKey = (workspaceId: string, connectionId: string) => `${workspaceId}|${connectionId}`;
