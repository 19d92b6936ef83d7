/**
 * Declares the error envelope in the OpenAPI document: one `ErrorEnvelope` component and
 * `4XX`/`5XX` responses on every operation that references it (`OpenAiError` for the
 * OpenAI-compatible operations under /v1). Only the document changes;
 * the routes keep no error response schemas, so error answers are serialised as before
 * (http/errors-plugin.ts, http/early-errors.ts).
 */
import type { SwaggerTransformObject } from '@fastify/swagger';
import type { OpenAPIV3_1 } from 'openapi-types';
import { ERROR_CODES } from '../errors.js';
import { isOpenAiPath } from './api-paths.js';

const ENVELOPE_REF = '#/components/schemas/ErrorEnvelope';
const OPENAI_ERROR_REF = '#/components/schemas/OpenAiError';

/** The JSON Schema of ErrorEnvelope (errors.ts): `{ error: { code, message, requestId, details? } }`. */
export const ERROR_ENVELOPE_SCHEMA: OpenAPIV3_1.SchemaObject = {
  type: 'object',
  description: 'The one body of every 4xx/5xx answer. Clients branch on `code`; `message` is for people.',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: ERROR_CODES, description: 'Stable machine-readable code' },
        message: { type: 'string', description: 'For people; 5xx answers hide internal details' },
        requestId: { type: 'string', description: 'Also sent as X-Request-Id; quote it when reporting a problem' },
        details: {
          type: 'array',
          description: 'Per-field problems (validation_failed)',
          items: {
            type: 'object',
            required: ['path', 'message'],
            additionalProperties: false,
            properties: {
              path: { type: 'string', description: 'JSON path of the offending field, e.g. `name` or `items.0.id`' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  },
};

/** The JSON Schema of the OpenAI-compatible API's errors (openai-errors.ts): OpenAI's shape. */
export const OPENAI_ERROR_SCHEMA: OpenAPIV3_1.SchemaObject = {
  type: 'object',
  description: 'The body of every 4xx/5xx answer under /v1, in OpenAI’s shape so OpenAI clients raise their usual errors.',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code', 'requestId'],
      additionalProperties: false,
      properties: {
        message: { type: 'string', description: 'For people; 5xx answers hide internal details' },
        type: { type: 'string', description: 'invalid_request_error, authentication_error, permission_error, insufficient_quota, rate_limit_error, upstream_error or server_error' },
        param: { type: ['string', 'null'], description: 'The offending request field, e.g. `model` or `messages[2].content`' },
        code: { type: 'string', description: 'invalid_api_key, model_not_found, rate_limit_exceeded, insufficient_quota, or a Bastion error code' },
        requestId: { type: 'string', description: 'Also sent as X-Request-Id' },
      },
    },
  },
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The parts of an OpenAPI document this transform touches. */
interface DocumentShape {
  components?: { schemas?: Record<string, unknown> };
  paths?: Record<string, Partial<Record<(typeof HTTP_METHODS)[number], { responses?: Record<string, unknown> }>> | undefined>;
}

function errorResponse(description: string, ref: string): OpenAPIV3_1.ResponseObject {
  return { description, content: { 'application/json': { schema: { $ref: ref } } } };
}

/** @fastify/swagger `transformObject`: adds the envelope component and the 4XX/5XX responses in place. */
export const withErrorEnvelope: SwaggerTransformObject = (input) => {
  if (!('openapiObject' in input)) return input.swaggerObject;
  const document = input.openapiObject as DocumentShape;
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ErrorEnvelope: ERROR_ENVELOPE_SCHEMA, OpenAiError: OPENAI_ERROR_SCHEMA } };
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    const ref = isOpenAiPath(path) ? OPENAI_ERROR_REF : ENVELOPE_REF;
    for (const method of HTTP_METHODS) {
      const operation = item?.[method];
      if (!operation) continue;
      // A status a route documents itself (e.g. /readyz's 503) stays more specific than the range.
      operation.responses = { ...operation.responses, '4XX': errorResponse('Client error', ref), '5XX': errorResponse('Server error', ref) };
    }
  }
  return input.openapiObject;
};
