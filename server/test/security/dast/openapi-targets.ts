/**
 * Scanner targets built from the OpenAPI document the staging stack serves: every operation
 * with a path, query or JSON body parameter becomes a sqlmap target (path and query values
 * marked with sqlmap's `*`, JSON body fields found by sqlmap itself), and every GET becomes
 * a wapiti start URL. Values are plausible (the seeded ids, the schema's enums and bounds),
 * so requests reach past validation to the queries behind them.
 *
 * Deletions get an id that does not exist (nothing the other targets need is deleted), and
 * each target carries the credential its operation accepts: the API key where a bearer
 * token is allowed (the administrator's key for /admin), the owner's session and CSRF
 * token where only a session is, nothing on public routes.
 */
import { randomUUID } from 'node:crypto';
import type { SqlmapTarget } from './scanners.js';
import type { Stack } from './stack.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
interface Schema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  minimum?: number;
  minLength?: number;
  minItems?: number;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
}
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Record<string, string[]>[];
}
export interface OpenApiDocument {
  paths: Record<string, Partial<Record<Method, Operation>>>;
}

const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];
/**
 * `skipTest`: saving a provider connection first tries it against its base URL; the staging
 * stack has no internet, so each of sqlmap's thousands of requests would wait for that outbound
 * call until it timed out (the whole target ran past 600 s). Skipped, the same handler and
 * queries are attacked without the wait.
 */
const SAMPLE_BOOLEAN: Record<string, boolean> = { skipTest: true };
const SAMPLE_TEXT: Record<string, string> = { query: 'parking', q: 'parking', content: 'Where do visitors park?', input: 'Where do visitors park?', email: 'visitor@example.org', password: 'not the password at all' };

/** The operation's name in findings and in the CI list: `METHOD /path`. */
export const operationName = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/** An id for a path parameter: the seeded object the route is about, or one that does not exist. */
function pathId(stack: Stack, path: string, name: string, method: Method): string {
  if (method === 'delete') return randomUUID();
  if (name === 'docId') return stack.ids.document;
  if (name === 'userId') return stack.ids.member;
  if (name !== 'id') return randomUUID();
  const resource = /^\/(?:api\/)?v1\/([^/]+)/.exec(path)?.[1];
  const byResource: Record<string, string> = { agents: stack.ids.agent, 'knowledge-bases': stack.ids.base, conversations: stack.ids.conversation, workspaces: stack.ids.workspace };
  return byResource[resource ?? ''] ?? randomUUID();
}

/** A plausible value for a schema: enums, bounds, formats and the seeded ids by field name. */
function sample(schema: Schema | undefined, name: string, stack: Stack, depth = 0): unknown {
  if (!schema || depth > 3) return undefined;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return sample(alternatives.find((s) => s.type !== 'null') ?? alternatives[0], name, stack, depth + 1);
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string': {
      if (schema.format === 'uuid') return { agentId: stack.ids.agent, workspaceId: stack.ids.workspace, userId: stack.ids.member }[name] ?? randomUUID();
      if (schema.format === 'email') return 'visitor@example.org';
      if (schema.format === 'date-time') return '2030-01-01T00:00:00Z';
      if (schema.format === 'uri' || /url$/i.test(name)) return 'https://example.org/';
      if (name === 'model') return stack.ids.agent;
      const text = SAMPLE_TEXT[name] ?? 'Staging sample';
      return text.padEnd(schema.minLength ?? 0, ' x');
    }
    case 'integer':
    case 'number':
      return typeof schema.default === 'number' ? schema.default : Math.max(schema.minimum ?? 1, 1);
    case 'boolean':
      return SAMPLE_BOOLEAN[name] ?? false;
    case 'array': {
      const item = sample(schema.items, name, stack, depth + 1);
      return item === undefined ? [] : Array.from({ length: Math.max(schema.minItems ?? 1, 1) }, () => item);
    }
    case 'object': {
      const object: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(schema.properties ?? {})) {
        // Nested objects only where required (a chat message); the top level gets every field.
        if (depth > 0 && !schema.required?.includes(key)) continue;
        const value = sample(property, key, stack, depth + 1);
        if (value !== undefined) object[key] = value;
      }
      return object;
    }
    default:
      return undefined;
  }
}

/** The headers that authenticate an operation, by what its `security` accepts. */
function credentialFor(operation: Operation, path: string, stack: Stack): Record<string, string> {
  const schemes = (operation.security ?? []).flatMap((s) => Object.keys(s));
  const workspace = { 'X-Workspace-Id': stack.ids.workspace };
  if (schemes.includes('bearerAuth')) return { Authorization: `Bearer ${path.startsWith('/api/v1/admin/') ? stack.adminApiKey : stack.apiKey}`, ...workspace };
  if (schemes.includes('sessionCookie')) return { Cookie: stack.session.cookie, 'X-CSRF-Token': stack.session.csrf, ...workspace };
  return {};
}

/** One sqlmap target per operation that takes a path, query or JSON body parameter. */
export function sqlmapTargets(document: OpenApiDocument, stack: Stack): SqlmapTarget[] {
  const targets: SqlmapTarget[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const parameters = operation.parameters ?? [];
      const pathParams = parameters.filter((p) => p.in === 'path');
      const queryParams = parameters.filter((p) => p.in === 'query');
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
      const body = bodySchema ? (sample(bodySchema, '', stack) as Record<string, unknown>) : undefined;
      const bodyFields = Object.entries(body ?? {})
        .filter(([, value]) => value === null || typeof value !== 'object')
        .map(([key]) => key);
      if (pathParams.length + queryParams.length + bodyFields.length === 0) continue;

      let url = path;
      for (const p of pathParams) url = url.replace(`{${p.name}}`, `${pathId(stack, path, p.name, method)}*`);
      const query = queryParams.map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(sample(p.schema, p.name, stack) ?? 'x'))}*`);
      if (query.length > 0) url += `?${query.join('&')}`;
      targets.push({
        name: operationName(method, path),
        url: `${stack.url}${url}`,
        method: method.toUpperCase() as SqlmapTarget['method'],
        ...(body ? { data: JSON.stringify(body) } : {}),
        markers: pathParams.length + queryParams.length,
        bodyFields,
        headers: credentialFor(operation, path, stack),
        // The answers this request gets when sent as written: refusals are the endpoint's
        // normal reply to a made-up id or a wrong password, not a reason for sqlmap to stop.
        ignoreCodes: [400, 401, 403, 404, 409, 422, 429],
      });
    }
  }
  return targets;
}

/** Start URLs for a crawler: every GET, its path ids the seeded objects, its query a sample. */
export function crawlStartUrls(document: OpenApiDocument, stack: Stack): string[] {
  return sqlmapTargets(document, stack)
    .filter((t) => t.method === 'GET')
    .map((t) => t.url.replaceAll('*', ''))
    .concat(Object.entries(document.paths).flatMap(([path, item]) => (item.get && !path.includes('{') && !(item.get.parameters ?? []).some((p) => p.in === 'query') ? [`${stack.url}${path}`] : [])));
}
