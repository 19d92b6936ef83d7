import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the API serves index.html for client-side routes.
    adapter: adapter({ fallback: 'index.html', precompress: false, strict: true }),
    // Hashes for SvelteKit's inline bootstrap script; the server adds frame-ancestors,
    // report-uri and the rest of the policy as a header (see server/src/http/security-headers.ts).
    csp: {
      mode: 'hash',
      directives: {
        'default-src': ['none'],
        'script-src': ['self'],
        'style-src': ['self'],
        'img-src': ['self', 'data:'],
        'connect-src': ['self'],
        'object-src': ['none'],
        'base-uri': ['none'],
        'form-action': ['self'],
      },
    },
  },
};

export default config;
