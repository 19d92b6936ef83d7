/** Typed application errors: a stable `code` for clients, a `message` for people. */

export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'validation_failed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'uri_too_long'
  | 'headers_too_large'
  | 'request_timeout'
  | 'expectation_failed'
  | 'too_many_parameters'
  | 'unknown_api_version'
  | 'not_found'
  | 'method_not_allowed'
  | 'weak_password'
  | 'invalid_token'
  | 'invalid_credentials'
  | 'unauthenticated'
  | 'csrf_failed'
  | 'ip_blocked'
  | 'forbidden'
  | 'insufficient_scope'
  | 'email_not_verified'
  | 'registration_closed'
  | 'mfa_enrollment_required'
  | 'password_reset_required'
  | 'account_disabled'
  | 'consent_required'
  | 'reauthentication_required'
  | 'export_expired'
  | 'conflict'
  | 'account_locked'
  | 'rate_limited'
  | 'budget_exhausted'
  | 'model_not_allowed'
  | 'invalid_filename'
  | 'unsupported_file_type'
  | 'invalid_file'
  | 'malware_detected'
  | 'quota_exceeded'
  | 'insufficient_storage'
  | 'service_unavailable'
  | 'internal_error'
  // A provider connection that did not work when tried (saving it, listing its models).
  | 'provider_blocked'
  | 'provider_unavailable'
  | 'provider_auth_failed'
  | 'provider_rate_limited'
  | 'provider_bad_request'
  | 'provider_timeout'
  | 'provider_protocol_error';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  not_found: 404,
  weak_password: 400,
  invalid_token: 400,
  invalid_credentials: 401,
  unauthenticated: 401,
  csrf_failed: 403,
  ip_blocked: 403,
  forbidden: 403,
  insufficient_scope: 403,
  email_not_verified: 403,
  registration_closed: 403,
  mfa_enrollment_required: 403,
  password_reset_required: 403,
  account_disabled: 403,
  consent_required: 403,
  reauthentication_required: 403,
  export_expired: 410,
  conflict: 409,
  account_locked: 429,
  rate_limited: 429,
  budget_exhausted: 402,
  model_not_allowed: 400,
  invalid_filename: 400,
  unsupported_file_type: 415,
  invalid_file: 422,
  malware_detected: 422,
  quota_exceeded: 413,
  insufficient_storage: 507,
  method_not_allowed: 405,
  payload_too_large: 413,
  uri_too_long: 414,
  headers_too_large: 431,
  request_timeout: 408,
  expectation_failed: 417,
  too_many_parameters: 400,
  unknown_api_version: 404,
  unsupported_media_type: 415,
  internal_error: 500,
  service_unavailable: 503,
  // 422: the request was understood, but the provider connection it names or describes does not work.
  provider_blocked: 422,
  provider_unavailable: 422,
  provider_auth_failed: 422,
  provider_rate_limited: 422,
  provider_bad_request: 422,
  provider_timeout: 422,
  provider_protocol_error: 422,
};

/** Every code an error answer can carry (documented in the OpenAPI document's ErrorEnvelope). */
export const ERROR_CODES = Object.keys(STATUS) as ErrorCode[];

export interface ErrorDetail {
  /** JSON path of the offending field, e.g. `name` or `items.0.id`. */
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  /** Seconds after which a retry may succeed (429/503), sent as Retry-After. */
  retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.status = STATUS[code];
  }
}

/** The one error body every 4xx/5xx response carries. */
export interface ErrorEnvelope {
  error: { code: string; message: string; requestId: string; details?: ErrorDetail[] };
}

/** The answer for a request no route serves; it names neither the method nor the path. */
export function noRoute(): AppError {
  return new AppError('not_found', 'No route matches this request.');
}

/** Raised by adapters when PostgreSQL or Redis cannot be reached; becomes a 503. */
export function serviceUnavailable(component: 'database' | 'store', cause: unknown): AppError {
  return new AppError('service_unavailable', `The ${component} is unavailable; try again shortly.`, undefined, { cause });
}

/** "in 40 seconds", "in 3 minutes", "in 2 hours": how long to wait, in words a person reads (rounded up). */
export function waitPhrase(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `in ${minutes} minutes`;
  const hours = Math.ceil(minutes / 60);
  return `in ${hours} hours`;
}

/** A refusal that says when to try again, in its message and in Retry-After. */
export function retryLater(code: ErrorCode, message: (wait: string) => string, ms: number): AppError {
  const error = new AppError(code, message(waitPhrase(ms)));
  error.retryAfter = ms / 1000;
  return error;
}

/**
 * Zod quotes names in its messages: the schema's (options, fields) and, for a strict
 * object, the unknown keys the client sent. A short plain name is kept (it tells the
 * person what to remove); anything else the client wrote is not echoed back.
 */
export function withoutClientText(message: string): string {
  const unknown = /^Unrecognized keys?: (.*)$/s.exec(message);
  if (unknown) return /^"[A-Za-z0-9_.-]{1,64}"(, "[A-Za-z0-9_.-]{1,64}")*$/.test(unknown[1]!) ? message : 'Unrecognized key: remove the fields this endpoint does not accept';
  return message.replace(/"([^"]*)"/g, (quoted, name: string) => (/^[A-Za-z0-9_.-]{1,64}$/.test(name) ? quoted : '"(a name not shown)"'));
}
