/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/// <reference types="@sveltejs/kit" />
/**
 * Caches the app shell and the hashed build assets, nothing else: API answers (/api/)
 * are never cached, so no account data outlives a session in the cache. Old versions'
 * caches are deleted when a new worker activates; it activates when the page asks.
 */
import { build, files, version } from '$service-worker';

const sw = self as unknown as ServiceWorkerGlobalScope;
const CACHE = `bastion-${version}`;
const SHELL = '/index.html';
// Hashed JS/CSS plus the static files (favicon, robots.txt); the shell for navigations.
const ASSETS = [...build, ...files, SHELL];
const CACHED = new Set(ASSETS);

sw.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)));
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void sw.skipWaiting();
});

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin || url.pathname.startsWith('/api/')) return;

  if (CACHED.has(url.pathname)) {
    // Hashed assets never change under a name: cache first.
    event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(request)));
    return;
  }
  if (request.mode === 'navigate') {
    // The network first (the shell is no-cache and carries the CSP hashes of this version);
    // the cached shell when offline.
    event.respondWith(fetch(request).catch(async () => (await caches.match(SHELL, { ignoreSearch: true })) ?? Response.error()));
  }
});
