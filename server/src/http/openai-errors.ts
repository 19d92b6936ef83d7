/**
 * Errors of the OpenAI-compatible API (/v1) in OpenAI's shape, so OpenAI clients raise
 * their usual exceptions (`AuthenticationError`, `NotFoundError`, `RateLimitError`, …) and
 * tools show `message`: `{ error: { message, type, param, code } }`, plus Bastion's
 * `requestId` (also in X-Request-Id). The same AppErrors as everywhere else, mapped here —
 * errors-plugin.ts picks this shape for every /v1 answer, hooks and not-found included.
 */
import type { FastifyRequest } from 'fastify';
import type { AppError, ErrorCode } from '../errors.js';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string; requestId: string };
}

/** OpenAI's `code` where clients know one; otherwise Bastion's own stable code. */
const CODES: Partial<Record<ErrorCode, string>> = {
  unauthenticated: 'invalid_api_key',
  rate_limited: 'rate_limit_exceeded',
  budget_exhausted: 'insufficient_quota',
};

/**
 * The agent's model provider failed (after Bastion's own retries): a bad gateway, not a
 * request the caller can fix (Bastion's /api answers these inside the stored message).
 */
const UPSTREAM_STATUS: Partial<Record<ErrorCode, number>> = {
  provider_blocked: 502,
  provider_unavailable: 502,
  provider_auth_failed: 502,
  provider_rate_limited: 502,
  provider_bad_request: 502,
  provider_protocol_error: 502,
  provider_timeout: 504,
};

/** The HTTP status of `error` on the OpenAI-compatible API. */
export function openAiStatus(error: AppError): number {
  return UPSTREAM_STATUS[error.code] ?? error.status;
}

function typeOf(status: number, code: ErrorCode): string {
  if (code in UPSTREAM_STATUS) return 'upstream_error';
  if (status === 401) return 'authentication_error';
  if (status === 402) return 'insufficient_quota';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/**
 * OpenAI's `param` from the first detail's path: `body.messages.2.content` →
 * `messages[2].content`; null when the error names no field.
 */
export function paramOf(error: AppError): string | null {
  const path = error.details?.[0]?.path;
  if (!path) return null;
  const field = path.replace(/^(body|querystring|params|headers)(\.|$)/, '');
  return field === '' ? null : field.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

export function openAiErrorBody(request: FastifyRequest, error: AppError): OpenAiErrorBody {
  const param = paramOf(error);
  const status = openAiStatus(error);
  const code = error.code === 'not_found' && param === 'model' ? 'model_not_found' : (CODES[error.code] ?? error.code);
  return { error: { message: error.message, type: typeOf(status, error.code), param, code, requestId: request.id } };
}
