/**
 * Response serialisation compiled from each route's response schema: the zod schema becomes
 * a JSON schema once, at start, and fast-json-stringify turns it into a function that writes
 * only the declared properties (undeclared ones never leave, as with zod's strip). A zod
 * parse per response (fastify-type-provider-zod's serializer) costs a validation pass and an
 * object copy per item; schemas that have no JSON schema form (transforms, dates) or that
 * need a runtime choice between shapes (anyOf/oneOf) keep it.
 */
import type { FastifySchema, FastifySerializerCompiler } from 'fastify';
import fastJson from 'fast-json-stringify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

type RouteSchema = Parameters<FastifySerializerCompiler<unknown>>[0];

function hasCombinator(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasCombinator);
  if (!node || typeof node !== 'object') return false;
  const object = node as Record<string, unknown>;
  if ('anyOf' in object || 'oneOf' in object || 'allOf' in object || 'not' in object || 'if' in object) return true;
  return Object.values(object).some(hasCombinator);
}

/** The JSON schema of a zod response schema, or null when it has none fast-json-stringify serialises as zod would. */
export function responseJsonSchema(schema: unknown): object | null {
  if (!(schema instanceof z.ZodType)) return null;
  try {
    const json = z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'throw' });
    return hasCombinator(json) ? null : json;
  } catch {
    return null;
  }
}

export const responseSerializerCompiler: FastifySerializerCompiler<FastifySchema> = (route: RouteSchema) => {
  const json = responseJsonSchema(route.schema);
  if (!json) return (zodSerializerCompiler as unknown as FastifySerializerCompiler<unknown>)(route);
  const stringify = fastJson(json as Parameters<typeof fastJson>[0]);
  return (data: unknown) => stringify(data);
};
