/** The parts of an OpenAPI 3 document the reference page reads (the server's /api/v1/openapi.json). */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  nullable?: boolean;
}

export interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: JsonSchema;
}

export interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  deprecated?: boolean;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: JsonSchema }> }>;
}

export interface OpenApi {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export interface Entry {
  method: (typeof METHODS)[number];
  path: string;
  operation: Operation;
}

/** Operations grouped by their first tag, in document order. */
export function byTag(doc: OpenApi): Map<string, Entry[]> {
  const groups = new Map<string, Entry[]>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? 'other';
      groups.set(tag, [...(groups.get(tag) ?? []), { method, path, operation }]);
    }
  }
  return groups;
}

/** Follows a local `$ref` (#/components/schemas/…); an unknown one reads as an empty schema. */
export function resolve(doc: OpenApi, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; current.$ref && hops < 10; hops++) {
    const name = current.$ref.replace('#/components/schemas/', '');
    current = doc.components?.schemas?.[name] ?? {};
  }
  if (current.allOf) return Object.assign({}, ...current.allOf.map((part) => resolve(doc, part)), { ...current, allOf: undefined });
  return current;
}

/** A short type name: `string`, `integer[]`, `"a" | "b"`, `object`. */
export function typeLabel(doc: OpenApi, schema: JsonSchema): string {
  const s = resolve(doc, schema);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === 'array' && s.items) return `${typeLabel(doc, s.items)}[]`;
  const type = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? (s.anyOf || s.oneOf ? 'one of' : s.properties ? 'object' : 'any'));
  return `${type}${s.format ? ` (${s.format})` : ''}${s.nullable ? ' | null' : ''}`;
}

/** Whether an operation matches the filter box: path, summary, method or tag. */
export function matches(entry: Entry, filter: string): boolean {
  const needle = filter.trim().toLowerCase();
  if (!needle) return true;
  return [entry.path, entry.method, entry.operation.summary ?? '', ...(entry.operation.tags ?? [])].some((text) => text.toLowerCase().includes(needle));
}

/** One line of a schema as the page lists it: a property (or a variant) at its depth. */
export interface SchemaRow {
  depth: number;
  name: string;
  required: boolean;
  type: string;
  description: string;
}

/** A schema as rows, nested properties and array items indented; references followed, depth bounded. */
export function schemaRows(doc: OpenApi, schema: JsonSchema, depth = 0): SchemaRow[] {
  if (depth > 6) return [];
  const s = resolve(doc, schema);
  const required = new Set(s.required ?? []);
  const rows: SchemaRow[] = [];
  for (const [name, property] of Object.entries(s.properties ?? {})) {
    const inner = resolve(doc, property);
    rows.push({ depth, name, required: required.has(name), type: typeLabel(doc, property), description: inner.description ?? '' });
    rows.push(...schemaRows(doc, inner.items ?? inner, depth + 1));
  }
  if (rows.length === 0) {
    for (const variant of s.anyOf ?? s.oneOf ?? []) {
      const inner = resolve(doc, variant);
      if (!inner.properties && !inner.items) continue;
      rows.push({ depth, name: 'one of', required: false, type: typeLabel(doc, variant), description: inner.description ?? '' });
      rows.push(...schemaRows(doc, inner.items ?? inner, depth + 1));
    }
  }
  return rows;
}
