/**
 * Latency and errors of LLM provider calls, by provider kind. Every remote call (chat,
 * retrieval embeddings and reranking, connection tests) gets its provider from one resolver, so wrapping
 * the providers it hands out measures them all without touching each provider's code.
 * The built-in extractive provider makes no calls and is left alone.
 */
import { ProviderError, type ChatEvent, type ChatRequest, type LlmProvider } from '../llm/types.js';
import type { Metrics } from './metrics.js';

type Operation = 'stream' | 'embed' | 'rerank' | 'test';

/** Anything that hands out providers (the ProviderResolver). */
export interface ProviderSource {
  providerFor(workspaceId: string, connectionId: string | null): Promise<LlmProvider>;
}

/** Makes every provider `source` returns record its calls in `metrics`; returns `source`. */
export function observeProviders<S extends ProviderSource>(source: S, metrics: Metrics): S {
  const providerFor = source.providerFor.bind(source);
  source.providerFor = async (workspaceId, connectionId) => observeProvider(await providerFor(workspaceId, connectionId), metrics);
  return source;
}

export function observeProvider(provider: LlmProvider, metrics: Metrics): LlmProvider {
  if (provider.kind === 'extractive') return provider;
  const probe: Probe = {
    observe: (operation, started) => metrics.providerDuration.observe({ provider: provider.kind, operation }, (performance.now() - started) / 1000),
    fail: (operation, error, signal) => {
      if (isCancellation(signal)) return;
      metrics.providerErrors.inc({ provider: provider.kind, operation, code: errorCode(error) });
    },
  };
  const timed = async <T>(operation: Operation, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await call();
    } catch (error) {
      probe.fail(operation, error, signal);
      throw error;
    } finally {
      probe.observe(operation, started);
    }
  };
  const observed: LlmProvider = {
    kind: provider.kind,
    stream: (request) => timedStream(provider, request, probe),
    test: (signal) => timed('test', signal, () => provider.test(signal)),
  };
  if (provider.embed) {
    const embed = provider.embed.bind(provider);
    observed.embed = (request) => timed('embed', request.signal, () => embed(request));
  }
  if (provider.rerank) {
    const rerank = provider.rerank.bind(provider);
    observed.rerank = (request) => timed('rerank', request.signal, () => rerank(request));
  }
  return observed;
}

/** A caller that went away (stop button, closed tab) is not a provider failure; its deadline passing is. */
function isCancellation(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && !isTimeout(signal.reason);
}

function isTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'TimeoutError';
}

/** A bounded label: the ProviderError code, else `provider_timeout` or `other`. */
function errorCode(error: unknown): string {
  if (error instanceof ProviderError) return error.code;
  return isTimeout(error) ? 'provider_timeout' : 'other';
}

interface Probe {
  observe(operation: Operation, started: number): void;
  fail(operation: Operation, error: unknown, signal: AbortSignal | undefined): void;
}

/**
 * The stream's latency is the wait for its first event (what a person waits for), or for
 * its failure; errors count whenever they happen. A plain iterator wrapper: an async
 * generator per stream would add a promise and a frame to every token.
 */
function timedStream(provider: LlmProvider, request: ChatRequest, probe: Probe): AsyncIterable<ChatEvent> {
  return {
    [Symbol.asyncIterator]: () => {
      const inner = provider.stream(request)[Symbol.asyncIterator]();
      const started = performance.now();
      let timed = false;
      const firstSettled = () => {
        if (timed) return;
        timed = true;
        probe.observe('stream', started);
      };
      return {
        next: () =>
          inner.next().then(
            (result) => {
              firstSettled();
              return result;
            },
            (error: unknown) => {
              firstSettled();
              probe.fail('stream', error, request.signal);
              throw error;
            },
          ),
        return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}
