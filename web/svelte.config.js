import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the API serves index.html for client-side routes.
    adapter: adapter({ fallback: 'index.html', precompress: false, strict: true }),
    csp: { mode: 'hash', directives: { 'default-src': ['self'], 'script-src': ['self'], 'object-src': ['none'], 'base-uri': ['self'] } },
  },
};

export default config;
