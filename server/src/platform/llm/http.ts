/**
 * HTTP plumbing shared by the OpenAI and Anthropic providers: the injected fetch, the
 * mapping of HTTP statuses and network failures to ProviderError codes, the deadlines and
 * the caller's abort signal.
 *
 * Timeouts of one provider call (docs/architecture.md, "Timeouts of a provider call"):
 * - first byte: from sending the request until the response headers arrive (connecting and
 *   the fetch's retries included) — `firstByteTimeoutMs`, PROVIDER_TIMEOUT_MS in the app;
 * - idle: the longest gap between two chunks of the response body — `idleTimeoutMs`, 30 s;
 * - the whole answer: not bounded here; the caller's signal (the agent's maxWallTimeMs).
 *
 * Error messages are safe to show: a status, a code and at most 200 characters of the
 * provider's own error message (with anything key-like redacted) — never request
 * headers, the API key or raw bodies.
 */
import { NetError } from '../net/errors.js';
import { parseSse, type SseEvent } from './sse.js';
import { ProviderError, type ProviderErrorCode } from './types.js';

/**
 * A body read as a Node stream (the network layer's responses to providers). Reading one
 * costs about half the CPU per chunk of a WHATWG stream, and a streamed answer is one chunk
 * per token (bench/results/token-path-2026-12-08.md).
 */
export interface StreamBody extends AsyncIterable<Uint8Array> {
  destroy(error?: Error): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** What the providers read of a response: a WHATWG Response is one, and so is the network layer's. */
export interface ProviderResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | StreamBody | null;
}

/** The fetch the providers use; the network layer passes its guarded request function here. */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<ProviderResponse>;

/** Longest gap between two chunks of a response body (a stalled stream). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Longest wait for the response headers; the app passes PROVIDER_TIMEOUT_MS (same default). */
export const DEFAULT_FIRST_BYTE_TIMEOUT_MS = 60_000;

/** Largest error or non-streamed JSON body read from a provider. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_JSON_BODY_BYTES = 8 * 1024 * 1024;
const MAX_MESSAGE_CHARS = 200;

/** A ProviderError from an HTTP status; `retryAfterMs` comes from Retry-After when sent. */
export class HttpProviderError extends ProviderError {
  constructor(
    code: ProviderErrorCode,
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(code, message);
  }
}

export function codeForStatus(status: number): ProviderErrorCode {
  if (status === 401 || status === 403) return 'provider_auth_failed';
  if (status === 429) return 'provider_rate_limited';
  if (status === 408 || status >= 500) return 'provider_unavailable';
  if (status >= 400) return 'provider_bad_request';
  return 'provider_protocol_error';
}

/** Appends a path to a base URL, keeping the base's query (Azure's `?api-version=`). */
export function joinUrl(base: string, path: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url.toString();
}

/** Makes a provider-supplied message short, single-line and free of anything key-like. */
export function safeMessage(text: string, secrets: Array<string | undefined> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  out = out
    .replace(/\b(sk|pk|rk)[-_][A-Za-z0-9*_-]{6,}/g, '[redacted]')
    .replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (out.length > MAX_MESSAGE_CHARS) out = `${out.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
  return out;
}

/** The human message inside an OpenAI-, Anthropic- or Ollama-style error body. */
export function providerErrorMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  const message = (body as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  return undefined;
}

function parseRetryAfter(headers: ProviderResponse['headers']): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}

interface NetErrorLike {
  name: 'NetError';
  code: string;
}

function isNetError(err: unknown): err is NetErrorLike {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'NetError' && typeof (err as { code?: unknown }).code === 'string';
}

/**
 * A refused provider address in words an admin can act on: the host, and the setting and
 * entry that would allow it (the guard's NetError carries both). One sentence each, one
 * period at the end.
 */
export function blockedMessage(err: unknown): string {
  const blocked = err instanceof NetError ? err.blocked : undefined;
  if (!blocked) return 'The provider address is not allowed by the network policy.';
  const entry = `${blocked.host.includes(':') ? `[${blocked.host}]` : blocked.host}:${blocked.port}`;
  return `The provider host ${blocked.host} is not allowed by the network policy: it is or resolves to a private, loopback or link-local address. To allow it, add ${entry} to ${blocked.setting}.`;
}

function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const error = new Error('The operation was aborted.');
  error.name = 'AbortError';
  return error;
}

/** A short, safe code for a low-level network failure (e.g. ECONNREFUSED), if any. */
function causeCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface ExchangeOptions {
  fetch: FetchLike;
  /** From sending the request until the response headers arrive, the fetch's retries included. */
  firstByteTimeoutMs: number;
  /** Between two chunks of the response body. */
  idleTimeoutMs: number;
  signal?: AbortSignal;
  /** Values to redact from any provider message (the API key). */
  secrets?: Array<string | undefined>;
}

type Phase = 'connect' | 'stream';

/**
 * One HTTP exchange with a provider. The wait for the response headers is bounded by the
 * first-byte timeout, each body chunk by the idle timeout; every wait ends at once when the
 * caller's signal aborts. `close()` tears the connection down; call it in a `finally`.
 */
export class Exchange {
  private readonly controller = new AbortController();
  private timedOut: ProviderError | undefined;
  private readonly onCallerAbort = () => this.controller.abort(this.options.signal?.reason);

  constructor(private readonly options: ExchangeOptions) {
    options.signal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  close(): void {
    this.options.signal?.removeEventListener('abort', this.onCallerAbort);
    if (!this.controller.signal.aborted) this.controller.abort(new ProviderError('provider_unavailable', 'The exchange was closed.'));
  }

  /** Sends the request; resolves with a 2xx response, throws a mapped ProviderError otherwise. */
  async send(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<ProviderResponse> {
    let late = false;
    const pending = this.options.fetch(url, { ...init, signal: this.controller.signal });
    // A fetch that ignores the signal may still answer after we gave up: drop that body.
    pending.then(
      (res) => {
        if (late && res.body) bodyReader(res.body).cancel();
      },
      () => undefined,
    );
    let res: ProviderResponse;
    try {
      res = await this.guard(pending, 'connect');
    } catch (err) {
      late = true;
      throw err;
    }
    if (!res.ok) throw await this.httpError(res);
    return res;
  }

  /** The response body as server-sent events, each read bounded by the idle timeout. */
  events(res: ProviderResponse): AsyncGenerator<SseEvent, void, undefined> {
    if (!res.body) throw new ProviderError('provider_protocol_error', 'The provider sent an empty response.');
    return parseSse(this.chunks(res.body));
  }

  /** The response body as JSON (bounded); invalid JSON is a protocol error. */
  async json(res: ProviderResponse): Promise<unknown> {
    const text = await this.text(res, MAX_JSON_BODY_BYTES, true);
    try {
      return JSON.parse(text);
    } catch {
      throw new ProviderError('provider_protocol_error', 'The provider sent a response that is not valid JSON.');
    }
  }

  /** Maps an error thrown while waiting on the provider to what the caller should see. */
  mapError(err: unknown, phase: Phase): unknown {
    if (err instanceof ProviderError) return err;
    const signal = this.options.signal;
    if (signal?.aborted) return abortReason(signal);
    if (this.timedOut) return this.timedOut;
    if (isNetError(err)) {
      switch (err.code) {
        case 'aborted':
          return err;
        case 'blocked_address':
          return new ProviderError('provider_blocked', blockedMessage(err));
        case 'timeout':
          return new ProviderError('provider_timeout', 'The provider did not answer in time.');
        default:
          // The network layer's own message names the host and the failure, e.g. "Could not reach ollama.internal:11434 (ECONNREFUSED)".
          if (err instanceof NetError) return new ProviderError('provider_unavailable', `${safeMessage(err.message).replace(/\.+$/, '')}.`);
          return new ProviderError('provider_unavailable', `Could not reach the provider (${safeMessage(err.code)}).`);
      }
    }
    const name = (err as { name?: unknown } | null)?.name;
    if (name === 'TimeoutError') return new ProviderError('provider_timeout', 'The provider did not answer in time.');
    if (name === 'AbortError') return err;
    const code = causeCode(err);
    const suffix = code ? ` (${code})` : '';
    return phase === 'connect' ? new ProviderError('provider_unavailable', `Could not reach the provider${suffix}.`) : new ProviderError('provider_unavailable', `The connection to the provider was lost mid-stream${suffix}.`);
  }

  /** Races a wait against its phase's timeout (first byte or idle) and the caller's signal. */
  private guard<T>(promise: Promise<T>, phase: Phase): Promise<T> {
    const signal = this.controller.signal;
    return new Promise<T>((resolve, reject) => {
      const fail = () => reject(this.mapError(signal.reason, phase));
      if (signal.aborted) {
        promise.catch(() => undefined);
        fail();
        return;
      }
      const timeoutMs = phase === 'connect' ? this.options.firstByteTimeoutMs : this.options.idleTimeoutMs;
      const timer = setTimeout(() => {
        this.timedOut = new ProviderError('provider_timeout', phase === 'connect' ? `The provider did not start answering within ${timeoutMs} ms.` : `The provider stream stalled for more than ${timeoutMs} ms.`);
        this.controller.abort(this.timedOut);
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        cleanup();
        fail();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (err: unknown) => {
          cleanup();
          reject(this.mapError(err, phase));
        },
      );
    });
  }

  /**
   * The body's chunks, each read bounded by the idle timeout and the signal. One timer
   * (re-armed before each read) and one abort listener per stream, not one per chunk:
   * an answer is hundreds of chunks.
   */
  private async *chunks(body: ReadableStream<Uint8Array> | StreamBody): AsyncGenerator<Uint8Array, void, undefined> {
    const reader = bodyReader(body);
    const signal = this.controller.signal;
    const timeoutMs = this.options.idleTimeoutMs;
    let interrupt: ((reason: unknown) => void) | null = null;
    const onAbort = () => interrupt?.(this.mapError(signal.reason, 'stream'));
    const timer = setTimeout(() => {
      this.timedOut = new ProviderError('provider_timeout', `The provider stream stalled for more than ${timeoutMs} ms.`);
      this.controller.abort(this.timedOut);
    }, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      for (;;) {
        if (signal.aborted) throw this.mapError(signal.reason, 'stream');
        timer.refresh();
        const { done, value } = await new Promise<IteratorResult<Uint8Array, unknown>>((resolve, reject) => {
          interrupt = reject;
          reader.read().then(resolve, (err: unknown) => reject(this.mapError(err, 'stream')));
        });
        interrupt = null;
        if (done) {
          finished = true;
          return;
        }
        yield value;
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (!finished) reader.cancel();
      reader.release();
    }
  }

  /** Reads at most `limit` bytes of the body as text; beyond the limit is an error or cut. */
  private async text(res: ProviderResponse, limit: number, strict: boolean): Promise<string> {
    if (!res.body) return '';
    const decoder = new TextDecoder();
    let text = '';
    let bytes = 0;
    for await (const chunk of this.chunks(res.body)) {
      bytes += chunk.byteLength;
      if (bytes > limit) {
        if (strict) throw new ProviderError('provider_protocol_error', 'The provider response is too large.');
        break;
      }
      text += decoder.decode(chunk, { stream: true });
    }
    return text + decoder.decode();
  }

  private async httpError(res: ProviderResponse): Promise<ProviderError> {
    const code = codeForStatus(res.status);
    let detail: string | undefined;
    try {
      const text = await this.text(res, MAX_ERROR_BODY_BYTES, false);
      try {
        detail = providerErrorMessage(JSON.parse(text));
      } catch {
        detail = undefined; // not JSON (an HTML error page, a proxy): show the status only
      }
    } catch (err) {
      // The caller cancelled while we read the error body: that wins.
      if (!(err instanceof ProviderError)) throw err;
    }
    const message = detail ? safeMessage(detail, this.options.secrets ?? []) : '';
    const status = `The provider answered HTTP ${res.status}`;
    return new HttpProviderError(code, message ? `${status}: ${message}` : `${status}.`, res.status, parseRetryAfter(res.headers));
  }
}

interface BodyReader {
  read(): Promise<IteratorResult<Uint8Array, unknown>>;
  /** Stops reading and lets the connection go; never throws. */
  cancel(): void;
  release(): void;
}

/** One way to read either kind of body, chunk by chunk. */
function bodyReader(body: ReadableStream<Uint8Array> | StreamBody): BodyReader {
  if ('getReader' in body) {
    const reader = body.getReader();
    return {
      read: () => reader.read() as Promise<IteratorResult<Uint8Array, unknown>>,
      cancel: () => void reader.cancel().catch(() => undefined),
      release: () => {
        try {
          reader.releaseLock();
        } catch {
          // a read is still pending on a fetch that ignores the signal; the cancel ends it
        }
      },
    };
  }
  const iterator = body[Symbol.asyncIterator]();
  const cancel = () => {
    body.on('error', () => undefined); // destroying an unfinished body reports an abort: expected here
    body.destroy();
  };
  return { read: () => iterator.next(), cancel, release: () => undefined };
}

/** Parses one stream chunk's JSON; anything else is a protocol error. */
export function parseChunk(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new ProviderError('provider_protocol_error', 'The provider sent a malformed stream chunk.');
  }
}

/** Throws the caller's abort reason when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The response is a JSON document rather than an event stream. */
export function isJsonResponse(res: ProviderResponse): boolean {
  return /^application\/(.+\+)?json\b/i.test(res.headers.get('content-type') ?? '');
}

/** Model ids from an OpenAI-, Anthropic- or Ollama-style model list. */
export function modelIds(body: unknown): string[] | undefined {
  const list = isObject(body) && Array.isArray(body.data) ? body.data : isObject(body) && Array.isArray(body.models) ? body.models : undefined;
  if (!list) return undefined;
  return list.map((m: unknown) => (isObject(m) ? (typeof m.id === 'string' ? m.id : typeof m.name === 'string' ? m.name : undefined) : undefined)).filter((id): id is string => id !== undefined);
}

/** The providers' cheapest call: GET a models list through one exchange. */
export async function listModels(exchange: Exchange, url: string, headers: Record<string, string>): Promise<{ ok: true; models?: string[] }> {
  try {
    const res = await exchange.send(url, { method: 'GET', headers });
    return { ok: true, models: modelIds(await exchange.json(res)) };
  } finally {
    exchange.close();
  }
}
