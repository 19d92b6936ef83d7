/**
 * The scanners' targets come from the OpenAPI document: every operation with a parameter is
 * attacked, each parameter marked or named so a missing verdict shows, with the credential
 * the operation accepts. Checked against the app's own document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../harness.js';
import { crawlStartUrls, sqlmapTargets, type OpenApiDocument } from './openapi-targets.js';
import type { Stack } from './stack.js';

let t: TestApp;
let document: OpenApiDocument;
const ids = {
  workspace: 'w0000000-0000-4000-8000-000000000000',
  agent: 'a0000000-0000-4000-8000-000000000000',
  base: 'b0000000-0000-4000-8000-000000000000',
  document: 'd0000000-0000-4000-8000-000000000000',
  conversation: 'c0000000-0000-4000-8000-000000000000',
  member: 'e0000000-0000-4000-8000-000000000000',
};
const stack = { url: 'https://127.0.0.1:9', apiKey: 'bst_owner', adminApiKey: 'bst_admin', session: { cookie: 'sid=s', csrf: 'csrf-t' }, ids } as unknown as Stack;

beforeAll(async () => {
  t = await buildTestApp();
  document = (await t.app.inject({ url: '/api/v1/openapi.json' })).json() as OpenApiDocument;
});
afterAll(() => t?.close());

describe('scanner targets from the OpenAPI document', () => {
  it('makes one target per operation that takes a parameter, each parameter accounted for', () => {
    const targets = sqlmapTargets(document, stack);
    const operations = Object.values(document.paths).flatMap((item) => Object.keys(item).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)));
    expect(targets.length).toBeGreaterThan(90);
    expect(targets.length).toBeLessThan(operations.length);
    expect(new Set(targets.map((target) => target.name)).size).toBe(targets.length);
    for (const target of targets) {
      expect(target.url.split('*').length - 1, target.name).toBe(target.markers);
      expect(target.markers + target.bodyFields.length, target.name).toBeGreaterThan(0);
      for (const field of target.bodyFields) expect(Object.keys(JSON.parse(target.data!)), target.name).toContain(field);
    }
  });

  it('fills path ids with the seeded objects, and never aims a deletion at one', () => {
    const byName = new Map(sqlmapTargets(document, stack).map((target) => [target.name, target]));
    const search = byName.get('POST /api/v1/knowledge-bases/{id}/search')!;
    expect(search.url).toBe(`${stack.url}/api/v1/knowledge-bases/${ids.base}*/search`);
    expect(JSON.parse(search.data!)).toMatchObject({ query: 'parking' });
    expect(search.bodyFields).toContain('query');
    expect(byName.get('GET /api/v1/conversations/search')!.url).toMatch(/\/conversations\/search\?q=parking\*&limit=\d+\*$/);
    for (const target of byName.values()) {
      if (target.method === 'DELETE') for (const id of Object.values(ids)) expect(target.url, target.name).not.toContain(id);
    }
  });

  it('asks for no outbound call the staging stack cannot make (a provider connection is saved untried)', () => {
    const byName = new Map(sqlmapTargets(document, stack).map((target) => [target.name, target]));
    expect(JSON.parse(byName.get('POST /api/v1/provider-connections')!.data!)).toMatchObject({ skipTest: true });
  });

  it('sends each operation the credential it accepts', () => {
    const byName = new Map(sqlmapTargets(document, stack).map((target) => [target.name, target]));
    expect(byName.get('GET /api/v1/conversations')!.headers).toEqual({ Authorization: 'Bearer bst_owner', 'X-Workspace-Id': ids.workspace });
    expect(byName.get('GET /api/v1/admin/users')!.headers.Authorization).toBe('Bearer bst_admin');
    expect(byName.get('POST /api/v1/auth/login')!.headers).toEqual({});
    const sessionOnly = [...byName.values()].filter((target) => 'Cookie' in target.headers);
    expect(sessionOnly.length).toBeGreaterThan(0);
    for (const target of sessionOnly) expect(target.headers['X-CSRF-Token']).toBe('csrf-t');
  });

  it('gives the crawler every GET, unmarked', () => {
    const urls = crawlStartUrls(document, stack);
    expect(urls.length).toBeGreaterThan(30);
    expect(urls.every((url) => url.startsWith(stack.url) && !url.includes('*') && !url.includes('{'))).toBe(true);
    expect(urls).toContain(`${stack.url}/api/v1/me`);
  });
});
