/**
 * Outbound HTTP: every request Bastion makes to the outside world (LLM providers, the
 * `fetch_url` agent tool, knowledge URLs, webhooks, workspace SSO) goes through here, so
 * each gets the SSRF guard, a deadline, bounded retries and, when given one, a circuit
 * breaker. A client serves one purpose (purposes.ts) with that purpose's allowance of
 * private destinations; see outbound-clients.ts.
 *
 * Uses the `undici` package's fetch (and, for `request`, its request API) with its own
 * Agent rather than the global fetch: the Agent is where the guarded DNS lookup plugs in,
 * and the global fetch bundles a different undici version that is not guaranteed to accept
 * this Agent.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request as undiciRequest, fetch as undiciFetch, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { NetError, isNetError } from './errors.js';
import { isRedirect, redirectedRequest } from './redirects.js';
import { isRetryableStatus, retryDelayMs } from './retry.js';
import { guardedConnector } from './connector.js';
import { ALLOW_SETTINGS, type OutboundPurpose } from './purposes.js';
import { addressPolicy, type AddressPolicy, type AllowList } from './ssrf-guard.js';
import { checkTarget } from './target.js';

export { readTextLimited } from './read-text.js';

export interface OutboundOptions<P extends OutboundPurpose> {
  /** What the client is for: decides which setting a refusal names. */
  purpose: P;
  /** Non-public destinations (host:port) the administrator allows for this purpose (see parseAllowList). */
  allow: AllowList;
  /** default connect timeout */
  connectTimeoutMs?: number;
  clock?: Clock;
  /** injectable for tests: sleep used between retries */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Source of retry jitter in [0, 1); injectable for tests. */
  random?: () => number;
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** time allowed until response headers arrive, per attempt */
  timeoutMs: number;
  /** retries on network errors, 408, 429, 500, 502, 503, 504 — full-jitter exponential backoff (base 250 ms, cap 4 s), honours Retry-After (seconds or HTTP date) up to the cap; default 0 */
  maxRetries?: number;
  /** counted once per logical request: success on a <500 non-429 final response, failure otherwise (a caller abort counts as neither) */
  breaker?: CircuitBreaker;
}

/**
 * A response whose body is a Node stream (undici's request API). Reading a body chunk by
 * chunk costs about half the CPU of fetch's WHATWG stream, and a streamed LLM answer is one
 * chunk per token (bench/results/token-path-2026-12-08.md). Read the body to its end or
 * destroy it, so the connection goes back to the pool.
 */
export interface StreamedResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  readonly body: Dispatcher.ResponseData['body'];
}

/** What the retries and the breaker read of either kind of response. */
interface Answer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
}

/** Sends one attempt; `signal` carries the caller's abort and the attempt's deadline. */
type Transport<R extends Answer> = (url: URL, request: OutboundRequest, signal: AbortSignal) => Promise<R>;

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => delay(ms, undefined, { signal });

/**
 * The outbound HTTP client for one purpose; one per purpose and process (it owns a
 * connection pool, never shared with another purpose: a pooled connection is not
 * judged again). The type parameter lets a module ask for its purpose's client, so
 * handing it another purpose's client (and allowance) does not compile.
 */
export class OutboundHttp<P extends OutboundPurpose = OutboundPurpose> {
  readonly purpose: P;
  private readonly agent: Agent;
  private readonly policy: AddressPolicy;
  private readonly setting: string;
  private readonly clock: Clock;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(options: OutboundOptions<P>) {
    this.purpose = options.purpose;
    this.setting = ALLOW_SETTINGS[options.purpose];
    this.policy = addressPolicy(options.allow);
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.agent = new Agent({ connect: guardedConnector(this.policy, this.setting, options.connectTimeoutMs ?? 10_000) });
  }

  /** Returns the final WHATWG Response (body unread) — including non-2xx responses after retries are exhausted. Throws NetError for invalid_url (only http: and https:, no credentials in URL), blocked_address, timeout, network, circuit_open, aborted (caller's signal). Redirects are NOT followed automatically (redirect: 'manual'). */
  async fetch(url: string, request: OutboundRequest): Promise<Response> {
    const target = checkTarget(url, this.policy, this.setting);
    return this.withBreaker(request, () => this.exchange(target, request, this.viaFetch));
  }

  /** Like fetch (the same guard, deadline, retries and breaker), answering with a Node-stream body: for long streamed bodies (LLM answers). */
  async request(url: string, request: OutboundRequest): Promise<StreamedResponse> {
    const target = checkTarget(url, this.policy, this.setting);
    return this.withBreaker(request, () => this.exchange(target, request, this.viaRequest));
  }

  /**
   * Like fetch but follows up to `maxRedirects` (default 3) redirects, re-checking each hop's URL through the guard; used by the fetch_url tool.
   * Past the limit the last redirect response is returned as is. Credentials headers
   * are dropped when a hop changes origin. The breaker, if any, judges the whole chain once.
   */
  async fetchFollowing(url: string, request: OutboundRequest & { maxRedirects?: number }): Promise<Response> {
    const maxRedirects = request.maxRedirects ?? 3;
    let target = checkTarget(url, this.policy, this.setting);
    return this.withBreaker(request, async () => {
      let hopRequest = request;
      for (let hop = 0; ; hop++) {
        const response = await this.exchange(target, hopRequest, this.viaFetch);
        const location = response.headers.get('location');
        if (!isRedirect(response.status) || location === null || hop >= maxRedirects) return response;
        await discard(response);
        const next = checkTarget(location, this.policy, this.setting, target);
        hopRequest = redirectedRequest(hopRequest, response.status, target, next);
        target = next;
      }
    });
  }

  /** Closes pooled connections; in-flight requests finish first. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Consults the breaker once for a logical request and reports its outcome. */
  private async withBreaker<R extends Answer>(request: OutboundRequest, run: () => Promise<R>): Promise<R> {
    const breaker = request.breaker;
    if (!breaker) return run();
    breaker.before();
    try {
      const response = await run();
      if (response.status < 500 && response.status !== 429) breaker.success();
      else breaker.failure();
      return response;
    } catch (error) {
      // A user pressing stop says nothing about the upstream's health.
      if (isNetError(error, 'aborted')) breaker.release();
      else breaker.failure();
      throw error;
    }
  }

  /** One request with its retries; returns the last response once retries run out. */
  private async exchange<R extends Answer>(url: URL, request: OutboundRequest, transport: Transport<R>): Promise<R> {
    const maxRetries = request.maxRetries ?? 0;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= maxRetries;
      let response: R;
      try {
        response = await this.attempt(url, request, transport);
      } catch (error) {
        // Only connection-level failures are retried: a timeout already cost the
        // caller a full deadline, and a refused address will be refused again.
        if (last || !isNetError(error, 'network')) throw error;
        await this.pause(retryDelayMs(attempt, null, this.clock.now(), this.random), request.signal);
        continue;
      }
      if (last || !isRetryableStatus(response.status)) return response;
      const wait = retryDelayMs(attempt, response.headers.get('retry-after'), this.clock.now(), this.random);
      await discard(response);
      await this.pause(wait, request.signal);
    }
  }

  /** A single attempt, bounded by `timeoutMs` until the response headers arrive. */
  private async attempt<R extends Answer>(url: URL, request: OutboundRequest, transport: Transport<R>): Promise<R> {
    const caller = request.signal;
    if (caller?.aborted) throw abortedError(caller.reason);
    // Our own timer rather than AbortSignal.timeout: it must be cleared once headers
    // arrive, or it would later abort the caller's reading of a long (streamed) body.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), request.timeoutMs);
    const signal = caller ? AbortSignal.any([caller, deadline.signal]) : deadline.signal;
    try {
      return await transport(url, request, signal);
    } catch (error) {
      if (caller?.aborted) throw abortedError(error);
      if (deadline.signal.aborted) throw timeoutError(url, request.timeoutMs, error);
      throw classifyFailure(url, request.timeoutMs, error);
    } finally {
      clearTimeout(timer);
    }
  }

  private readonly viaFetch: Transport<Response> = (url, request, signal) => undiciFetch(url, { method: request.method ?? 'GET', headers: request.headers, body: request.body, signal, redirect: 'manual', dispatcher: this.agent });

  // undici's request API never follows redirects.
  private readonly viaRequest: Transport<StreamedResponse> = async (url, request, signal) =>
    streamedResponse(await undiciRequest(url, { method: (request.method ?? 'GET') as Dispatcher.HttpMethod, headers: request.headers, body: request.body, signal, dispatcher: this.agent }));

  /** Waits between retries; a caller abort while waiting ends the request. */
  private async pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.sleep(ms, signal);
    } catch (error) {
      if (signal?.aborted) throw abortedError(error);
      throw error;
    }
    if (signal?.aborted) throw abortedError(signal.reason);
  }
}

function streamedResponse(data: Dispatcher.ResponseData): StreamedResponse {
  const headers = data.headers;
  return {
    status: data.statusCode,
    ok: data.statusCode >= 200 && data.statusCode < 300,
    headers: {
      get: (name) => {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    body: data.body,
  };
}

/** Releases a response we will not read, so its connection goes back to the pool. */
async function discard(response: Answer): Promise<void> {
  const body = (response as Response | StreamedResponse).body;
  if (body && 'getReader' in body) await body.cancel().catch(() => undefined);
  else await body?.dump().catch(() => undefined);
}

function abortedError(cause: unknown): NetError {
  return new NetError('aborted', 'The request was cancelled', { cause });
}

function timeoutError(url: URL, ms: number, cause: unknown): NetError {
  return new NetError('timeout', `${url.host} did not respond within ${ms} ms`, { cause });
}

/**
 * Maps what undici threw (`TypeError: fetch failed` with the real error somewhere in
 * its `cause` chain) to a NetError. The guard's own refusal is found and passed on, so
 * a blocked address is reported as such rather than as a generic network failure.
 */
function classifyFailure(url: URL, timeoutMs: number, error: unknown): NetError {
  const causes = causeChain(error);
  const refusal = causes.find((cause): cause is NetError => cause instanceof NetError);
  if (refusal) return refusal;
  const code = causes.map((cause) => (cause as { code?: unknown }).code).find((c): c is string => typeof c === 'string');
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT') {
    return timeoutError(url, timeoutMs, error);
  }
  // The code (ECONNREFUSED, ENOTFOUND, ...) helps an admin and reveals nothing secret.
  return new NetError('network', `Could not reach ${url.host}${code ? ` (${code})` : ''}`, { cause: error });
}

/** The error, its causes, and the members of any AggregateError (Happy Eyeballs), breadth-first. */
function causeChain(error: unknown): object[] {
  const seen: object[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.length < 20) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null || seen.includes(next)) continue;
    seen.push(next);
    queue.push((next as { cause?: unknown }).cause);
    if (next instanceof AggregateError) queue.push(...(next.errors as unknown[]));
  }
  return seen;
}
