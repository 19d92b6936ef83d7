/**
 * Prometheus metrics: one registry per app instance (tests build many apps in one
 * process; a global registry would mix their series and refuse duplicate names).
 *
 * Counters are recorded where the event happens (rate limit, failed credentials,
 * provider calls); values that already live elsewhere (cache hit counts, queue depth,
 * pool size) are read at scrape time by collect callbacks, so nothing is counted twice.
 * Every label has a bounded set of values: route patterns, never raw URLs or user ids.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobQueue } from '../queue/queue.js';
import type { CacheStats } from '../store/cache.js';

/** Request latency buckets for an API: 5 ms … 10 s. */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Provider calls are slower (a model's first token): 50 ms … 60 s. */
export const PROVIDER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Longest a scrape waits for the queue backend (Redis) before leaving its gauges out. */
export const QUEUE_COUNTS_TIMEOUT_MS = 1_000;

/** Why a credential was refused; a fixed set, never the user or the credential. */
export type AuthFailureKind = 'password' | 'second_factor' | 'api_key' | 'access_token' | 'malformed_credential';

/** Pool occupancy, where the driver exposes it (pg); PGlite has no pool. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface MetricsOptions {
  /** Process metrics (event-loop lag, heap, RSS, GC, handles). Each call starts an event-loop monitor: enable once per served app. */
  defaults: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'route' | 'method' | 'status_class'>;
  readonly rateLimited: Counter<'policy'>;
  readonly authFailures: Counter<'kind'>;
  readonly providerDuration: Histogram<'provider' | 'operation'>;
  readonly providerErrors: Counter<'provider' | 'operation' | 'code'>;
  readonly rerankDuration: Histogram<'method'>;
  readonly rerankTokens: Counter<'method' | 'direction'>;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    if (options.defaults) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'bastion_http_request_duration_seconds',
      help: 'Time from request to response, by route pattern, method and status class (/metrics excluded).',
      labelNames: ['route', 'method', 'status_class'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.rateLimited = new Counter({
      name: 'bastion_rate_limited_total',
      help: 'Requests refused with 429 rate_limited, by rate-limit policy.',
      labelNames: ['policy'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'bastion_auth_failures_total',
      help: 'Refused credentials: failed sign-ins (password, second factor) and invalid API keys or access tokens.',
      labelNames: ['kind'],
      registers,
    });
    this.providerDuration = new Histogram({
      name: 'bastion_provider_request_duration_seconds',
      help: 'LLM provider calls: time to the first streamed event (stream) or to the result (embed, test), failures included.',
      labelNames: ['provider', 'operation'],
      buckets: PROVIDER_BUCKETS,
      registers,
    });
    this.providerErrors = new Counter({
      name: 'bastion_provider_errors_total',
      help: 'LLM provider calls that failed, by provider kind, operation and error code (caller cancellations excluded).',
      labelNames: ['provider', 'operation', 'code'],
      registers,
    });
    this.rerankDuration = new Histogram({
      name: 'bastion_rerank_duration_seconds',
      help: "Reranking of a search's best results, by method (the provider's rerank endpoint, or a model's judgement by chat).",
      labelNames: ['method'],
      buckets: PROVIDER_BUCKETS,
      registers,
    });
    this.rerankTokens = new Counter({
      name: 'bastion_rerank_tokens_total',
      help: 'Tokens reranking used, by method and direction (input, output); they count against the workspace budget.',
      labelNames: ['method', 'direction'],
      registers,
    });
  }

  /** Hit/miss counts of the app's JSON caches, read from `stats` at scrape time. */
  observeCaches(stats: CacheStats): void {
    new Counter({
      name: 'bastion_cache_requests_total',
      help: 'Cache lookups by cache name and result (hit or miss).',
      labelNames: ['cache', 'result'],
      registers: [this.registry],
      collect() {
        this.reset(); // the counts live in CacheStats: copy them, never add to them
        for (const [cache, counts] of Object.entries(stats.snapshot())) {
          this.inc({ cache, result: 'hit' }, counts.hits);
          this.inc({ cache, result: 'miss' }, counts.misses);
        }
      },
    });
  }

  /** Jobs per queue and state, asked of the queue at scrape time (bounded by QUEUE_COUNTS_TIMEOUT_MS). */
  observeQueue(queue: Pick<JobQueue, 'counts'>, names: readonly string[], timeoutMs = QUEUE_COUNTS_TIMEOUT_MS): void {
    new Gauge({
      name: 'bastion_queue_jobs',
      help: 'Jobs in the queue by queue name and state (waiting, active, delayed, failed = dead-lettered); absent when the queue did not answer in time.',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const results = await Promise.all(names.map((name) => withTimeout(queue.counts(name), timeoutMs).catch(() => null)));
        results.forEach((counts, i) => {
          if (!counts) return;
          for (const [state, value] of Object.entries(counts)) this.set({ queue: names[i]!, state }, value);
        });
      },
    });
  }

  /** Database pool occupancy at scrape time; nothing is exported when `stats` returns undefined. */
  observePool(stats: () => PoolStats | undefined): void {
    new Gauge({
      name: 'bastion_db_pool_connections',
      help: 'PostgreSQL pool: connections in use and idle, and queries waiting for a connection.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        const pool = stats();
        if (!pool) return;
        this.set({ state: 'in_use' }, pool.total - pool.idle);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
      },
    });
  }

  /** Knowledge searches of this process ranking and waiting their turn (SEARCH_CONCURRENCY), at scrape time. */
  observeSearches(load: () => { active: number; queued: number }): void {
    new Gauge({
      name: 'bastion_knowledge_searches',
      help: 'Knowledge searches of this process: running in the database, and waiting for a turn (SEARCH_CONCURRENCY).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const { active, queued } = load();
        this.set({ state: 'running' }, active);
        this.set({ state: 'waiting' }, queued);
      },
    });
  }

  /** The exposition in Prometheus text format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
