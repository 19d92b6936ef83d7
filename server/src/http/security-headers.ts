/**
 * Security headers on every response, computed once at start and written by one hook
 * (per-request header construction, as @fastify/helmet does, costs ~40% of throughput
 * on a trivial route here; a precomputed set costs ~4%).
 *
 * - HTML (the web app): the CSP SvelteKit emits with script hashes, tightened and sent as a
 *   header so that frame-ancestors and report-uri apply (a <meta> CSP cannot carry them).
 * - Everything else (API JSON, errors, static assets): `default-src 'none'; frame-ancestors 'none'`.
 * - HSTS only when PUBLIC_URL is https (directly or behind a TLS-terminating proxy).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isApiPath } from './api-paths.js';

export const CSP_REPORT_PATH = '/api/v1/csp-reports';

const COMMON: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy':
    'accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(self), geolocation=(), gyroscope=(), hid=(), idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()',
  'x-dns-prefetch-control': 'off',
  'x-permitted-cross-domain-policies': 'none',
  'origin-agent-cluster': '?1',
};

export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** Pages that carry tokens in their fragment: never send a Referer from them. */
const TOKEN_PAGES = /^\/(reset-password|verify-email|not-me|register)(\/|$|\?)/;

export interface HeaderSets {
  api: [string, string][];
  html: [string, string][];
  tokenHtml: [string, string][];
  /** The service worker script: its CSP governs its own fetches (it caches the app). */
  serviceWorker: [string, string][];
}

export const SERVICE_WORKER_PATH = '/service-worker.js';
const SERVICE_WORKER_CSP = "default-src 'none'; connect-src 'self'; frame-ancestors 'none'";

/** Reads the CSP SvelteKit put in index.html (with its script hashes) and builds the header policy. */
export function webAppCsp(webRoot: string | null): string {
  let scriptSrc = "'self'";
  let styleSrc = "'self'";
  if (webRoot) {
    const html = fs.readFileSync(path.join(webRoot, 'index.html'), 'utf8');
    const meta = /<meta http-equiv="content-security-policy" content="([^"]*)"/i.exec(html)?.[1] ?? '';
    scriptSrc = /script-src ([^;]*)/.exec(meta)?.[1]?.trim() ?? scriptSrc;
    styleSrc = /style-src ([^;]*)/.exec(meta)?.[1]?.trim() ?? styleSrc;
  }
  return [
    "default-src 'none'",
    `script-src ${scriptSrc}`,
    `style-src ${styleSrc}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    'upgrade-insecure-requests',
    `report-uri ${CSP_REPORT_PATH}`,
    'report-to csp',
  ].join('; ');
}

export function buildHeaderSets(options: { publicUrl: string; hstsPreload: boolean; webRoot: string | null }): HeaderSets {
  const https = options.publicUrl.startsWith('https://');
  const common = { ...COMMON };
  if (https) common['strict-transport-security'] = `max-age=63072000; includeSubDomains${options.hstsPreload ? '; preload' : ''}`;
  const reporting = { 'reporting-endpoints': `csp="${options.publicUrl}${CSP_REPORT_PATH}"` };
  const htmlCsp = webAppCsp(options.webRoot).replace(https ? '' : 'upgrade-insecure-requests; ', '');
  return {
    api: Object.entries({ ...common, 'content-security-policy': API_CSP, 'referrer-policy': 'no-referrer' }),
    html: Object.entries({ ...common, ...reporting, 'content-security-policy': htmlCsp, 'referrer-policy': 'strict-origin-when-cross-origin' }),
    tokenHtml: Object.entries({ ...common, ...reporting, 'content-security-policy': htmlCsp, 'referrer-policy': 'no-referrer' }),
    serviceWorker: Object.entries({ ...common, 'content-security-policy': SERVICE_WORKER_CSP, 'referrer-policy': 'no-referrer' }),
  };
}

/**
 * The headers of an error answered outside the request lifecycle (no onSend hook runs):
 * the API set, the request id and no caching — what the hook gives an API error.
 */
export function errorHeaders(sets: HeaderSets, requestId: string): [string, string][] {
  return [...sets.api, ['x-request-id', requestId], ['cache-control', 'no-store']];
}

/**
 * onSend hook (callback style: no promise per response): picks the precomputed set by
 * content type and path, adds the request id, and keeps API responses out of caches.
 */
export function securityHeadersHook(sets: HeaderSets, isClosing: () => boolean) {
  return (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void => {
    const type = reply.getHeader('content-type');
    // A 304 has no content type; browsers merge its headers into the cached page, so a page
    // revalidated with the API policy would load with every script blocked.
    const page = reply.statusCode === 304 && !isApiPath(request.url) && !request.url.startsWith('/_app/');
    const html = page || (typeof type === 'string' && type.startsWith('text/html'));
    const set = html ? (TOKEN_PAGES.test(request.url) ? sets.tokenHtml : sets.html) : request.url === SERVICE_WORKER_PATH ? sets.serviceWorker : sets.api;
    for (const [name, value] of set) reply.header(name, value);
    reply.header('x-request-id', request.id);
    if (!html && (isApiPath(request.url) || isApiPath(request.routeOptions.url ?? '')) && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (isClosing()) reply.header('connection', 'close');
    done(null, payload);
  };
}
