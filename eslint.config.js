// ESLint flat config. Besides the recommended rules, two house rules are enforced
// (see DESIGN.md "Rules of the house"): no string-built SQL, and `process.env` is
// read only by server/src/config/load.ts.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';
import svelteConfig from './web/svelte.config.js';

const STRING_BUILT_SQL = [
  {
    selector: "CallExpression[callee.object.name='sql'][callee.property.name=/^(raw|lit)$/]",
    message: 'No string-built SQL: use the sql`` template (values become bound parameters) or the query builder.',
  },
  {
    selector: "CallExpression[callee.object.name='CompiledQuery'][callee.property.name='raw']",
    message: 'No string-built SQL: CompiledQuery.raw is reserved for the migrator and the database driver.',
  },
  {
    selector: 'CallExpression[callee.property.name=/^(query|exec|unsafe)$/] > TemplateLiteral[expressions.length>0]',
    message: 'No string-built SQL: pass values as parameters, not interpolated into the query text.',
  },
  {
    selector: "CallExpression[callee.property.name=/^(query|exec|unsafe)$/] > BinaryExpression[operator='+']",
    message: 'No string-built SQL: pass values as parameters, not concatenated into the query text.',
  },
];

const PROCESS_ENV = {
  object: 'process',
  property: 'env',
  message: 'Read configuration through server/src/config/index.ts (load.ts is the only reader of process.env).',
};

export default tseslint.config(
  {
    // In web/, only the app and its browser tests (web/src, web/e2e); schema.d.ts is generated (npm run api:types).
    ignores: ['**/node_modules/**', '**/dist/**', 'web/*', '!web/src', '!web/e2e', 'web/src/lib/api/schema.d.ts', 'data/**', 'coverage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly' },
    },
    rules: {
      'no-restricted-syntax': ['error', ...STRING_BUILT_SQL],
      'no-restricted-properties': ['error', PROCESS_ENV],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The one reader of the environment (tests use testRunSettings); dev scripts, benchmarks and deployment tests set up processes.
    files: ['server/src/config/load.ts', 'scripts/**', 'bench/**', 'deploy/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // Migration scripts are multi-statement files from the repository; the PGlite driver
    // issues fixed transaction statements. Both are reviewed constants, never input.
    files: ['server/src/platform/db/migrator.ts', 'server/src/platform/db/pglite-dialect.ts'],
    rules: { 'no-restricted-syntax': ['error', ...STRING_BUILT_SQL.filter((r) => !r.selector.includes('CompiledQuery'))] },
  },
  ...svelte.configs.recommended,
  {
    files: ['web/**/*.svelte', 'web/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig } },
  },
  {
    files: ['web/**'],
    rules: {
      // TypeScript and svelte-check resolve every name (DOM, SvelteKit and rune globals); no-undef cannot see types.
      'no-undef': 'off',
      // No `paths.base` is configured, so resolve() would return every path unchanged: 46 call sites for no effect.
      'svelte/no-navigation-without-resolve': 'off',
    },
  },
);
