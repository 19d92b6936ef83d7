/** pino logger with redaction: credentials never reach the logs. */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

/** Field names whose values are always replaced, at any of the first three levels. */
const SENSITIVE_FIELDS = new Set([
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'secret',
  'clientSecret',
  'apiKey',
  'masterKey',
  'privateKey',
  'totp',
]);
const CENSOR = '[REDACTED]';
/** Keys whose serializer (below) writes only named, safe fields: nothing inside them is logged otherwise. */
const SERIALIZED_SAFE = new Set(['req', 'res']);

/**
 * `value` with every sensitive field at this level and the next `levels` replaced by
 * [REDACTED]; the same object when there is none (most lines, the access log's included),
 * so a line costs a walk over its few keys, not a copy. Errors keep their prototype (the
 * err serializer needs it) and their message and stack.
 */
export function redactFields<T>(value: T, levels = 2): T {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Date) return value;
  let copy: Record<string, unknown> | unknown[] | undefined;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const field = source[key];
    const next = SENSITIVE_FIELDS.has(key) ? CENSOR : levels > 0 && !(levels === 2 && SERIALIZED_SAFE.has(key)) ? redactFields(field, levels - 1) : field;
    if (next === field) continue;
    copy ??= copyOf(source);
    Object.defineProperty(copy, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return (copy ?? value) as T;
}

function copyOf(source: Record<string, unknown>): Record<string, unknown> | unknown[] {
  if (Array.isArray(source)) return [...(source as unknown[])];
  const copy = Object.create(Object.getPrototypeOf(source) as object | null) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(source)) Object.defineProperty(copy, name, Object.getOwnPropertyDescriptor(source, name)!);
  return copy;
}

/** Query parameters whose values are masked in logged URLs. */
const SENSITIVE_QUERY = /^(token|access_token|refresh_token|id_token|code|state|password|secret|api_key|apikey|key|signature|sig)$/i;

/** Masks the values of sensitive query parameters in a request URL. */
export function redactUrl(url: string): string {
  const index = url.indexOf('?');
  if (index === -1) return url;
  const params = url
    .slice(index + 1)
    .split('&')
    .map((pair) => {
      const [name = '', ...rest] = pair.split('=');
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return rest.length > 0 && SENSITIVE_QUERY.test(decoded) ? `${name}=[REDACTED]` : pair;
    });
  return `${url.slice(0, index)}?${params.join('&')}`;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    // Redaction as a formatter rather than pino's path-based `redact`: 48 wildcard paths
    // walked on every line cost about a quarter of the CPU of a trivial request at the
    // default level (bench/results/http-read-path-profile.md); this walks a line's own keys.
    formatters: { log: (object) => redactFields(object), bindings: (bindings) => redactFields(bindings) },
    serializers: {
      req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: redactUrl(req.url), id: req.id }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
}

/**
 * The logger; without a destination it writes to stdout asynchronously: lines written while
 * a write is in flight go out together in the next one, so the access log at the default
 * level does not cost a system call per request under load. What is buffered is flushed
 * synchronously when the process exits.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(loggerOptions(level), destination ?? pino.destination({ dest: 1, sync: false }));
}

/**
 * Fastify `childLoggerFactory`: the per-request child logger is created on first use, so
 * requests that log nothing (LOG_LEVEL above info) do not pay for a pino child per request.
 */
export function lazyChildLogger(logger: Logger, bindings: Record<string, unknown>, options: object): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= logger.child(bindings, options));
  return new Proxy(logger, {
    get(target, property) {
      if (typeof property === 'string' && (property in LEVEL_METHODS || property === 'child')) {
        // A disabled level is a no-op on the parent too: skip creating the child.
        if (property !== 'child' && !target.isLevelEnabled(property)) return noop;
        // Looking a method up creates nothing (Fastify checks every method of each request's
        // logger): the child is made when a line is actually written.
        return (...args: unknown[]) => (Reflect.get(real(), property) as (...a: unknown[]) => unknown).apply(real(), args);
      }
      if (property === 'isLevelEnabled' || property === 'level' || property === 'levels') {
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      const value = Reflect.get(real(), property) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real()) : value;
    },
  });
}

const LEVEL_METHODS = { fatal: 1, error: 1, warn: 1, info: 1, debug: 1, trace: 1 };
const noop = (): void => undefined;
