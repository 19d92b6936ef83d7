/**
 * One error envelope for every 4xx/5xx: `{ error: { code, message, requestId } }`.
 * Known failures map to stable codes; anything else is logged in full and answered
 * with a generic 500 — never a stack trace, SQL text or library message.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { CryptoError } from '../platform/crypto/crypto-error.js';
import { isDatabaseUnavailable } from '../platform/db/database.js';
import { AppError, withoutClientText, type ErrorDetail, type ErrorEnvelope } from '../errors.js';
import { isOpenAiPath } from './api-paths.js';
import { openAiErrorBody, openAiStatus } from './openai-errors.js';

/** Fastify's own error codes that are the client's fault. */
const FASTIFY_CODES: Record<string, () => AppError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new AppError('unsupported_media_type', 'Send the request body as application/json.'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new AppError('bad_request', 'Content-Length does not match the body.'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new AppError('payload_too_large', 'Request body is larger than the server accepts.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new AppError('invalid_json', 'Request body is empty but declared as JSON.'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new AppError('invalid_json', 'Request body is not valid JSON.'),
  FST_ERR_BAD_URL: () => new AppError('bad_request', 'The request URL is malformed.'),
  FST_ERR_MAX_PARAM_LENGTH: () => new AppError('uri_too_long', 'A path segment is longer than the server accepts.'),
  FST_ERR_HANDLER_TIMEOUT: () => new AppError('service_unavailable', 'The request took too long; try again shortly.'),
};

export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    // A malformed id in the path cannot name an existing resource.
    if ((error as { validationContext?: string }).validationContext === 'params') {
      return new AppError('not_found', 'No such resource.');
    }
    const details: ErrorDetail[] = error.validation.map((issue) => ({
      path: [(error as { validationContext?: string }).validationContext, ...issue.instancePath.split('/').filter(Boolean)].filter(Boolean).join('.'),
      message: withoutClientText(issue.message ?? 'invalid value'),
    }));
    const first = details[0];
    return new AppError('validation_failed', first ? `Invalid request: ${first.path ? `${first.path}: ` : ''}${first.message}` : 'Invalid request.', details);
  }
  const code = (error as FastifyError | undefined)?.code;
  if (typeof code === 'string' && FASTIFY_CODES[code]) return FASTIFY_CODES[code]();
  if (isDatabaseUnavailable(error)) {
    return new AppError('service_unavailable', 'The database is unavailable; try again shortly.', undefined, { cause: error });
  }
  // Not a broken record: this copy lacks the master key (the readiness probe says crypto failed).
  if (error instanceof CryptoError && error.code === 'unknown_master_key') {
    return new AppError('service_unavailable', 'Encrypted data cannot be read on this server right now: a master key is not configured.', undefined, { cause: error });
  }
  const status = (error as FastifyError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return status === 413 ? new AppError('payload_too_large', 'Request is larger than the server accepts.') : new AppError('bad_request', 'The request could not be understood.');
  }
  return undefined;
}

export function envelope(request: FastifyRequest, error: AppError): ErrorEnvelope {
  return {
    error: {
      code: error.code,
      message: error.message,
      requestId: request.id,
      ...(error.details ? { details: error.details } : {}),
    },
  };
}

const sentCodes = new WeakMap<FastifyRequest, string>();

/** The error code this request was answered with, if any (read by the security monitor). */
export function errorCodeOf(request: FastifyRequest): string | undefined {
  return sentCodes.get(request);
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  return reply.send(prepareError(request, reply, error));
}

/**
 * Sets the status and headers of an error answer and returns its body, for a caller that
 * sends it itself (the overload guard's `pressureHandler` returns it to @fastify/under-pressure,
 * which then ends the request instead of letting it go on). Under /v1 (the OpenAI-compatible
 * API) the body is OpenAI's error shape (openai-errors.ts), whichever hook refused.
 */
export function prepareError(request: FastifyRequest, reply: FastifyReply, error: AppError): string {
  sentCodes.set(request, error.code);
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  else if (error.status === 503) reply.header('retry-after', '5');
  const openAi = isOpenAiPath(request.url);
  reply.status(openAi ? openAiStatus(error) : error.status).type('application/json; charset=utf-8');
  // Serialised here: a route's response schema for the same status (readyz's 503) must not shape an error.
  return JSON.stringify(openAi ? openAiErrorBody(request, error) : envelope(request, error));
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const known = toAppError(error);
    if (known) {
      if (known.status >= 500) request.log.warn({ err: error, code: known.code }, 'request failed: dependency unavailable');
      else request.log.info({ code: known.code }, 'request rejected');
      return sendError(request, reply, known);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(request, reply, new AppError('internal_error', 'Something went wrong on our side; the error was logged.'));
  });
}
