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

/**
 * `anyOf: [X, {type: 'null'}]` (zod's nullable of a string with a format) as X with
 * `type: [X's type, 'null']`: the same output for a serialiser, which ignores formats and
 * patterns, and no runtime choice between shapes.
 */
function collapseNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(collapseNullable);
  if (!node || typeof node !== 'object') return node;
  const object = Object.fromEntries(Object.entries(node as Record<string, unknown>).map(([key, value]) => [key, collapseNullable(value)]));
  const anyOf = object.anyOf;
  if (Array.isArray(anyOf) && anyOf.length === 2) {
    const nullIndex = anyOf.findIndex((option) => (option as { type?: unknown }).type === 'null' && Object.keys(option as object).length === 1);
    const other = anyOf[1 - nullIndex] as Record<string, unknown> | undefined;
    if (nullIndex !== -1 && other && typeof other.type === 'string' && !('anyOf' in other)) {
      const { anyOf: _dropped, ...rest } = object;
      return { ...rest, ...other, type: [other.type, 'null'] };
    }
  }
  return object;
}

/** The JSON schema of a zod response schema, or null when it has none fast-json-stringify serialises as zod would. */
export function responseJsonSchema(schema: unknown): object | null {
  if (!(schema instanceof z.ZodType)) return null;
  try {
    const json = collapseNullable(z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'throw' })) as object;
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
