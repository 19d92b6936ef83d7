// Dependency rules of the house (docs/architecture.md "Rules of the house"), checked by
// `npm run lint`, with no exceptions list: a violation fails the lint.
// server/test/dependency-rules.test.ts proves each rule fires on the code it exists to stop.

import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));

/** A module is a folder server/src/modules/<name>/; $1 in a `to` path is the `from` module's name. */
const MODULE = '^server/src/modules/([^/]+)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'platform-is-below-the-app',
      comment: 'platform/ holds adapters to the outside world: it imports no HTTP plugin, no module, and neither the app nor the composition.',
      severity: 'error',
      from: { path: '^server/src/platform/' },
      to: { path: ['^server/src/http/', '^server/src/modules/', '^server/src/app\\.ts$', '^server/src/compose/'] },
    },
    {
      name: 'http-imports-no-module',
      comment: 'http/ plugins are cross-cutting: they take what they need from a module through an interface passed in, never by import.',
      severity: 'error',
      from: { path: '^server/src/http/' },
      to: { path: '^server/src/modules/' },
    },
    {
      name: 'module-uses-another-module-service',
      comment: "A module calls another module's service (or its other shared files), never its repo.ts or routes.ts.",
      severity: 'error',
      from: { path: MODULE },
      to: { path: '^server/src/modules/.+/(?:repo|routes|[^/]+-repo|[^/]+-routes)\\.ts$', pathNot: '^server/src/modules/$1/' },
    },
    {
      name: 'module-imports-no-composition',
      comment: 'Modules are wired by app.ts (and compose/); they never import the wiring.',
      severity: 'error',
      from: { path: '^server/src/modules/' },
      to: { path: ['^server/src/app\\.ts$', '^server/src/compose/'] },
    },
    {
      name: 'web-imports-no-server-code',
      comment: 'The web app talks to the server over HTTP only; it shares no code with it.',
      severity: 'error',
      from: { path: '^web/src/' },
      to: { path: '^server/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)node_modules/', '(^|/)\\.svelte-kit/', '(^|/)dist/'] },
    // Type-only imports count: a cycle through types is still a cycle.
    tsPreCompilationDeps: true,
    // Absolute: TypeScript 6 finds no inputs through a relative tsconfig path.
    tsConfig: { fileName: here('server/tsconfig.json') },
    webpackConfig: { fileName: here('.dependency-cruiser-aliases.mjs') },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
