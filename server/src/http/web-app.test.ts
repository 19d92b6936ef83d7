/** Serving the built web app: assets, caching and the SPA shell. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, tempDir, type TestApp } from '../../test/harness.js';

let t: TestApp;
const ASSET = `console.log(${JSON.stringify('x'.repeat(2_000))});`;
beforeAll(async () => {
  const root = await tempDir('web');
  await fs.mkdir(path.join(root, '_app', 'immutable'), { recursive: true });
  await fs.writeFile(path.join(root, 'index.html'), '<!doctype html><title>Bastion</title>');
  await fs.writeFile(path.join(root, '_app', 'immutable', 'app.abc123.js'), ASSET);
  await fs.writeFile(path.join(root, '_app', 'immutable', 'app.abc123.js.br'), brotliCompressSync(ASSET));
  await fs.writeFile(path.join(root, '_app', 'immutable', 'app.abc123.js.gz'), gzipSync(ASSET));
  t = await buildTestApp({ webRoot: root });
});
afterAll(async () => {
  await t.close();
});

describe('web app', () => {
  it('serves index.html at / with revalidation', async () => {
    const response = await t.app.inject({ url: '/', headers: { accept: 'text/html' } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('<title>Bastion</title>');
    expect(response.headers['cache-control']).toBe('no-cache');
  });

  it('caches hashed assets forever', async () => {
    const response = await t.app.inject({ url: '/_app/immutable/app.abc123.js' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('serves the precompressed variant the client accepts, and says it varies', async () => {
    const url = '/_app/immutable/app.abc123.js';
    const br = await t.app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.rawPayload.equals(brotliCompressSync(ASSET))).toBe(true);
    expect(String(br.headers.vary)).toMatch(/accept-encoding/i);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const gz = await t.app.inject({ url, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = await t.app.inject({ url, headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(ASSET);
  });

  it('answers client-side routes with the SPA shell', async () => {
    const response = await t.app.inject({ url: '/agents/42/chat', headers: { accept: 'text/html,*/*' } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('<title>Bastion</title>');
  });

  it('answers /api/docs with the app shell under the page policy, never a 304', async () => {
    const first = await t.app.inject({ url: '/api/docs', headers: { accept: 'text/html' } });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/html/);
    expect(first.body).toContain('<title>Bastion</title>');
    // The page policy (scripts from self), not the API's default-src 'none'.
    expect(String(first.headers['content-security-policy'])).toContain("script-src 'self'");
    const again = await t.app.inject({ url: '/api/docs', headers: { accept: 'text/html', 'if-none-match': String(first.headers.etag ?? '*'), 'if-modified-since': new Date().toUTCString() } });
    expect(again.statusCode).toBe(200);
    // The document it renders is public.
    expect((await t.app.inject({ url: '/api/v1/openapi.json' })).json().paths['/api/v1/auth/login']).toBeDefined();
  });

  it('keeps the JSON 404 for the API, missing assets and non-HTML requests', async () => {
    for (const [url, accept] of [
      ['/api/v1/unknown', 'text/html'],
      ['/_app/immutable/missing.js', '*/*'],
      ['/agents/42', 'application/json'],
      ['/../../etc/passwd', 'text/html'],
    ] as const) {
      const response = await t.app.inject({ url, headers: { accept } });
      if (url.startsWith('/..')) {
        expect(response.body).not.toContain('root:');
        continue;
      }
      expect(response.statusCode, url).toBe(404);
      expect(response.json().error.code).toBe('not_found');
    }
  });
});
