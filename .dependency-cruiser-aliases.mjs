// Import aliases for dependency-cruiser, in the shape of a webpack config's `resolve` (the
// form it reads aliases from): SvelteKit's $lib. $app/* and $service-worker are virtual
// SvelteKit modules and stay unresolved, like packages.
import { fileURLToPath } from 'node:url';

export default {
  resolve: {
    alias: { $lib: fileURLToPath(new URL('web/src/lib', import.meta.url)) },
  },
};
