#!/usr/bin/env node
/**
 * Initial-JS budget: the gzip size of every JS file a page loads at start, i.e. the
 * files index.html preloads (entry/start, entry/app, the root layout and their chunks)
 * plus the route's layout and page nodes and all their static imports, read from the
 * Vite manifest's import graph. Dynamic import()s are not counted: they load on demand.
 *
 * Usage (after `npm run build`): node scripts/bundle-budget.mjs [/path=KB ...]
 * Default budgets: /sign-in ≤ 60 KB, /chat ≤ 120 KB. Exit 1 over budget or when a route
 * is not in the build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = path.join(WEB, 'build');
const OUTPUT = path.join(WEB, '.svelte-kit');
const MANIFEST = path.join(OUTPUT, 'output/client/.vite/manifest.json');
const APP = path.join(OUTPUT, 'generated/client-optimized/app.js');
const DEFAULT_BUDGETS = { '/sign-in': 60, '/chat': 120 };

function budgetsFromArgs(args) {
  if (args.length === 0) return DEFAULT_BUDGETS;
  return Object.fromEntries(
    args.map((arg) => {
      const [route, kb] = arg.split('=');
      if (!route?.startsWith('/') || !(Number(kb) > 0)) throw new Error(`expected /path=KB, got ${arg}`);
      return [route, Number(kb)];
    }),
  );
}

for (const file of [path.join(BUILD, 'index.html'), MANIFEST, APP]) {
  if (!fs.existsSync(file)) {
    console.error(`bundle-budget: ${path.relative(WEB, file)} is missing; run \`npm run build -w web\` first.`);
    process.exit(1);
  }
}

const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
const byFile = new Map(Object.entries(manifest).map(([key, chunk]) => [chunk.file, key]));

/** Route id → [page node, ...layout nodes], from SvelteKit's generated client dictionary. */
function routeNodes() {
  const source = fs.readFileSync(APP, 'utf8');
  const body = /export const dictionary = (\{[\s\S]*?\n\t?\});/.exec(source)?.[1];
  if (!body) throw new Error('no route dictionary in the generated app.js');
  // The dictionary is a JS literal of numbers and arrays; holes (",,") stand for absent layouts.
  const dictionary = JSON.parse(body.replace(/,\s*(?=[,\]])/g, ',null').replace(/,\s*\}/, '}'));
  const routes = new Map();
  for (const [id, [page, layouts = [], errors]] of Object.entries(dictionary)) {
    void errors;
    // A page with a server load is written as ~n (a negative number); none here, but decode it anyway.
    const decode = (n) => (n < 0 ? ~n : n);
    const pathname = id.replace(/\/\([^)]+\)/g, '') || '/';
    routes.set(pathname, [decode(page), ...layouts.filter((n) => n !== null).map(decode)]);
  }
  return routes;
}

/** Manifest keys reachable through static imports. */
function closure(keys) {
  const seen = new Set();
  const stack = [...keys];
  while (stack.length > 0) {
    const key = stack.pop();
    if (seen.has(key)) continue;
    const chunk = manifest[key];
    if (!chunk) throw new Error(`${key} is not in the Vite manifest`);
    seen.add(key);
    stack.push(...(chunk.imports ?? []));
  }
  return seen;
}

function gzipSize(file) {
  const full = path.join(BUILD, file);
  // Measure what is served: the precompressed .gz when the adapter wrote one.
  if (fs.existsSync(`${full}.gz`)) return fs.statSync(`${full}.gz`).size;
  return zlib.gzipSync(fs.readFileSync(full), { level: 9 }).length;
}

const html = fs.readFileSync(path.join(BUILD, 'index.html'), 'utf8');
const preloaded = [...html.matchAll(/<link href="\/([^"]+\.js)" rel="modulepreload">/g)].map((m) => m[1]);
const shellKeys = preloaded.map((file) => {
  const key = byFile.get(file);
  if (!key) throw new Error(`index.html preloads ${file}, which is not in the Vite manifest`);
  return key;
});

const routes = routeNodes();
const budgets = budgetsFromArgs(process.argv.slice(2));
let failed = false;
for (const [route, budgetKb] of Object.entries(budgets)) {
  const nodes = routes.get(route);
  if (!nodes) {
    console.error(`✗ ${route}: no such route in this build (routes: ${[...routes.keys()].join(', ')})`);
    failed = true;
    continue;
  }
  const nodeKeys = nodes.map((n) => `.svelte-kit/generated/client-optimized/nodes/${n}.js`);
  const files = [...closure([...shellKeys, ...nodeKeys])].map((key) => manifest[key].file).filter((file) => file.endsWith('.js'));
  const bytes = files.reduce((sum, file) => sum + gzipSize(file), 0);
  const kb = bytes / 1024;
  const over = kb > budgetKb;
  failed ||= over;
  console.log(`${over ? '✗' : '✓'} ${route}: ${kb.toFixed(1)} KB gzip initial JS in ${files.length} files (budget ${budgetKb} KB)`);
  if (process.env.BUDGET_VERBOSE) for (const file of files.sort()) console.log(`    ${(gzipSize(file) / 1024).toFixed(1).padStart(6)} KB  ${file}`);
}
process.exit(failed ? 1 : 0);
