/**
 * Security header validation on a sample of web, token-page, API, error and static
 * responses (the rules of MDN HTTP Observatory and the ZAP baseline).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, tempDir, type TestApp } from '../../test/harness.js';

const SCRIPT_HASH = "'sha256-ZQRp3xpxYXehOZmIkozdgHh9DWldFUu4QbNIBPUqCh0='";
let http: TestApp;
let https: TestApp;

beforeAll(async () => {
  const root = await tempDir('web-headers');
  await fs.mkdir(path.join(root, '_app', 'immutable'), { recursive: true });
  await fs.writeFile(
    path.join(root, 'index.html'),
    `<!doctype html><html><head><meta http-equiv="content-security-policy" content="default-src 'self'; script-src 'self' ${SCRIPT_HASH}; base-uri 'self'"><title>Bastion</title></head></html>`,
  );
  await fs.writeFile(path.join(root, '_app', 'immutable', 'app.js'), 'export {}');
  await fs.writeFile(path.join(root, 'service-worker.js'), 'self.addEventListener("fetch", () => {})');
  http = await buildTestApp({ webRoot: root });
  https = await buildTestApp({ webRoot: root, env: { PUBLIC_URL: 'https://bastion.example.org', HSTS_PRELOAD: 'true' } });
});
afterAll(async () => {
  await http.close();
  await https.close();
});

type Sample = [string, string, string];
const SAMPLES: Sample[] = [
  ['web page', '/', 'text/html'],
  ['client route', '/agents/1', 'text/html'],
  ['token page', '/reset-password', 'text/html'],
  ['API JSON', '/api/v1/healthz', 'application/json'],
  ['API error', '/api/v1/me', 'application/json'],
  ['unknown route', '/api/v1/nope', 'application/json'],
  ['static asset', '/_app/immutable/app.js', 'application/javascript'],
];

function directives(csp: string): Map<string, string> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => [d.split(' ')[0]!, d.slice(d.indexOf(' ') + 1)]),
  );
}

describe.each(SAMPLES)('%s (%s)', (_label, url, type) => {
  it('carries every security header and no fingerprint [ASVS 3.2.1, 3.4.1, 3.4.3, 3.4.6, 14.3.2]', async () => {
    const response = await https.app.inject({ url, headers: { accept: type === 'text/html' ? 'text/html' : '*/*' } });
    const h = response.headers;
    expect(String(h['content-type'])).toContain(type);
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['x-frame-options']).toBe('DENY');
    expect(h['cross-origin-opener-policy']).toBe('same-origin');
    expect(h['cross-origin-resource-policy']).toBe('same-origin');
    expect(h['permissions-policy']).toMatch(/camera=\(\)/);
    expect(h['permissions-policy']).toMatch(/microphone=\(\)/);
    expect(h['permissions-policy']).toMatch(/geolocation=\(\)/);
    expect(h['strict-transport-security']).toBe('max-age=63072000; includeSubDomains; preload');
    expect(h['x-powered-by']).toBeUndefined();
    expect(h.server).toBeUndefined();
    const csp = directives(String(h['content-security-policy']));
    expect(csp.get('frame-ancestors')).toBe("'none'");
    if (type === 'text/html') {
      expect(csp.get('default-src')).toBe("'none'");
      expect(csp.get('script-src')).toBe(`'self' ${SCRIPT_HASH}`);
      expect(csp.get('script-src')).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(csp.get('object-src')).toBe("'none'");
      expect(csp.get('base-uri')).toBe("'none'");
      expect(csp.get('form-action')).toBe("'self'");
      expect(csp.get('connect-src')).toBe("'self'");
      expect(csp.get('report-uri')).toBe('/api/v1/csp-reports');
      expect(h['reporting-endpoints']).toBe('csp="https://bastion.example.org/api/v1/csp-reports"');
      expect(h['referrer-policy']).toBe(url === '/reset-password' ? 'no-referrer' : 'strict-origin-when-cross-origin');
    } else {
      expect(String(h['content-security-policy'])).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(h['referrer-policy']).toBe('no-referrer');
    }
    if (url.startsWith('/api/')) expect(h['cache-control']).toBe('no-store');
  });
});

describe('revalidated pages and the service worker', () => {
  it('gives a 304 for a page the page policy, not the API one (browsers merge it into the cached page)', async () => {
    const first = await https.app.inject({ url: '/', headers: { accept: 'text/html' } });
    const etag = String(first.headers.etag);
    expect(etag).toBeTruthy();
    const again = await https.app.inject({ url: '/', headers: { accept: 'text/html', 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(directives(String(again.headers['content-security-policy'])).get('script-src')).toBe(`'self' ${SCRIPT_HASH}`);
    const asset = await https.app.inject({ url: '/_app/immutable/app.js' });
    const assetAgain = await https.app.inject({ url: '/_app/immutable/app.js', headers: { 'if-none-match': String(asset.headers.etag) } });
    expect(assetAgain.statusCode).toBe(304);
    expect(assetAgain.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it('lets the service worker fetch from its own origin only', async () => {
    const response = await https.app.inject({ url: '/service-worker.js' });
    expect(response.statusCode).toBe(200);
    const csp = directives(String(response.headers['content-security-policy']));
    expect(csp.get('connect-src')).toBe("'self'");
    expect(csp.get('default-src')).toBe("'none'");
    expect(response.headers['cache-control']).toBe('no-cache');
  });
});

describe('HSTS', () => {
  it('is sent only when PUBLIC_URL is https', async () => {
    const response = await http.app.inject({ url: '/api/v1/healthz' });
    expect(response.headers['strict-transport-security']).toBeUndefined();
    const page = await http.app.inject({ url: '/', headers: { accept: 'text/html' } });
    expect(String(page.headers['content-security-policy'])).not.toContain('upgrade-insecure-requests');
  });
});
