/**
 * Declares the error envelope in the OpenAPI document: one `ErrorEnvelope` component and
 * `4XX`/`5XX` responses on every operation that references it. Only the document changes;
 * the routes keep no error response schemas, so error answers are serialised as before
 * (http/errors-plugin.ts, http/early-errors.ts).
 */
import type { SwaggerTransformObject } from '@fastify/swagger';
import type { OpenAPIV3_1 } from 'openapi-types';
import { ERROR_CODES } from '../errors.js';

const ENVELOPE_REF = '#/components/schemas/ErrorEnvelope';

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

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The parts of an OpenAPI document this transform touches. */
interface DocumentShape {
  components?: { schemas?: Record<string, unknown> };
  paths?: Record<string, Partial<Record<(typeof HTTP_METHODS)[number], { responses?: Record<string, unknown> }>> | undefined>;
}

function errorResponse(description: string): OpenAPIV3_1.ResponseObject {
  return { description, content: { 'application/json': { schema: { $ref: ENVELOPE_REF } } } };
}

/** @fastify/swagger `transformObject`: adds the envelope component and the 4XX/5XX responses in place. */
export const withErrorEnvelope: SwaggerTransformObject = (input) => {
  if (!('openapiObject' in input)) return input.swaggerObject;
  const document = input.openapiObject as DocumentShape;
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ErrorEnvelope: ERROR_ENVELOPE_SCHEMA } };
  for (const item of Object.values(document.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = item?.[method];
      if (!operation) continue;
      // A status a route documents itself (e.g. /readyz's 503) stays more specific than the range.
      operation.responses = { ...operation.responses, '4XX': errorResponse('Client error'), '5XX': errorResponse('Server error') };
    }
  }
  return input.openapiObject;
};
