/**
 * Serves the built SvelteKit app (web/build): hashed assets cached forever, pages
 * revalidated, precompressed brotli/gzip variants when the client accepts them, and the
 * SPA shell for any other GET that asks for HTML.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isApiPath } from './api-paths.js';

/** web/build, the same relative path from src/ and dist/. */
export const WEB_BUILD_DIR = fileURLToPath(new URL('../../../web/build', import.meta.url));

export function hasWebBuild(root: string): boolean {
  return fs.existsSync(path.join(root, 'index.html'));
}

export async function registerWebApp(app: FastifyInstance, root: string): Promise<void> {
  // The same URL answers brotli, gzip or identity: caches must key on Accept-Encoding.
  // (Set on the reply so it merges with CORS's `Vary: Origin` instead of being overwritten.)
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!isApiPath(request.url)) {
      const vary = String(reply.getHeader('vary') ?? '');
      if (!/accept-encoding/i.test(vary)) reply.header('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
    }
    done(null, payload);
  });
  await app.register(fastifyStatic, {
    root,
    wildcard: false, // routes for the files that exist at start; no disk lookups for unknown paths
    index: ['index.html'],
    preCompressed: true, // the build writes .br and .gz beside each asset: no compression per request
    cacheControl: false, // set below: immutable for hashed assets, revalidate the rest
    setHeaders: (res, filePath) => {
      const immutable = filePath.includes(`${path.sep}_app${path.sep}immutable${path.sep}`);
      res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}

/** Where people read the API reference: a page of the web app under the API's own prefix. */
export const API_REFERENCE_PATH = '/api/docs';

/**
 * GET /api/docs answers the app shell, which renders the OpenAPI document (web/src/routes/api/docs).
 * Sent from memory, not as a file: an /api/ URL never gets a 304, whose headers the browser
 * would merge from the API's security policy into the cached page.
 */
export function registerApiReference(app: FastifyInstance, root: string): void {
  const shell = fs.readFileSync(path.join(root, 'index.html'));
  app.get(API_REFERENCE_PATH, { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(shell));
}

/** True when the request is a browser navigation the SPA shell should answer. */
export function wantsSpaShell(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (isApiPath(request.url)) return false; // /api and the OpenAI-compatible /v1 answer JSON 404s
  return (request.headers.accept ?? '').includes('text/html');
}

export function sendSpaShell(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-cache').sendFile('index.html');
}
