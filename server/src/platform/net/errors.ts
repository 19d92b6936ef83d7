/**
 * The one error type outbound HTTP throws. Callers branch on `code`; `message` is
 * written for people and may be shown to a user, so it never carries credentials,
 * full URLs (which may hold tokens in the query) or response bodies.
 */

export type NetErrorCode =
  | 'invalid_url' // not http(s), unparsable, or credentials in the URL
  | 'blocked_address' // the SSRF guard refused the destination
  | 'timeout' // no response headers (or no connection) in time
  | 'network' // connection refused/reset, DNS failure, TLS failure
  | 'circuit_open' // the circuit breaker is refusing calls to this upstream
  | 'too_large' // the body exceeded the caller's limit
  | 'aborted' // the caller's signal aborted the request
  | 'unsupported_content'; // the body is of a type the caller cannot use

/** The destination a `blocked_address` refusal is about, for callers that word it their own way. */
export interface BlockedDestination {
  /** The host name or address as written (IPv6 without brackets). */
  host: string;
  port: number;
  /** The configuration variable that would allow it, e.g. OUTBOUND_ALLOW_PRIVATE_PROVIDERS. */
  setting: string;
}

export class NetError extends Error {
  override readonly name = 'NetError';
  /** Set on `blocked_address`: what was refused and which setting allows it. */
  readonly blocked?: BlockedDestination;

  /**
   * @param code what went wrong, for callers to branch on
   * @param message safe to show a user
   * @param options `cause` keeps the underlying error for logs (never shown to users); `blocked` the refused destination
   */
  constructor(
    readonly code: NetErrorCode,
    message: string,
    options?: ErrorOptions & { blocked?: BlockedDestination },
  ) {
    super(message, options);
    if (options?.blocked) this.blocked = options.blocked;
  }
}

/** True when `error` is a NetError, optionally with the given code. */
export function isNetError(error: unknown, code?: NetErrorCode): error is NetError {
  return error instanceof NetError && (code === undefined || error.code === code);
}
