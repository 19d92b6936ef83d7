import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the API serves index.html for client-side routes. precompress
    // writes .br and .gz beside every asset for the server to send as they are.
    adapter: adapter({ fallback: 'index.html', precompress: true, strict: true }),
    // Registered by the app (src/lib/shell/UpdatePrompt.svelte) so it can offer a reload on update.
    serviceWorker: { register: false },
    // Hashes for SvelteKit's inline bootstrap script; the server adds frame-ancestors,
    // report-uri and the rest of the policy as a header (see server/src/http/security-headers.ts).
    csp: {
      mode: 'hash',
      directives: {
        'default-src': ['none'],
        'script-src': ['self'],
        // SvelteKit's route announcer (#svelte-announcer, for screen readers) carries a fixed
        // inline style attribute (sveltejs/kit#11993); allow exactly that value and nothing else.
        'style-src': ['self', 'unsafe-hashes', 'sha256-S8qMpvofolR8Mpjy4kQvEm7m1q8clzU4dfDH0AmvZjo='],
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
