/**
 * Vitest global setup: builds the web app and the server when their output is missing or
 * older than their sources (the same rule as `npm start`, scripts/start.mjs), so the
 * suite always runs what the tree holds and CI, which has just built, builds nothing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, ROOT } from './paths.js';

const at = (...parts: string[]) => path.join(ROOT, ...parts);

function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (p: string): void => {
    if (!fs.existsSync(p)) return;
    const stat = fs.statSync(p);
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) visit(path.join(p, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

const isStale = (output: string, sources: string[]) => !fs.existsSync(output) || fs.statSync(output).mtimeMs < newestMtime(sources);

function build(workspace: string): void {
  console.log(`e2e: building ${workspace}…`);
  const result = spawnSync('npm', ['run', 'build', '-w', workspace], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm run build -w ${workspace} failed (${result.status})`);
}

export function buildIfStale(): void {
  if (isStale(at('web', 'build', 'index.html'), [at('web', 'src'), at('web', 'static'), at('web', 'svelte.config.js'), at('web', 'vite.config.ts'), at('web', 'package.json')])) build('web');
  if (isStale(at('server', 'dist', 'cli.js'), [at('server', 'src'), at('server', 'tsconfig.json'), at('server', 'tsconfig.build.json'), at('server', 'package.json')])) build('server');
}

export default function setup(): void {
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  // E2E_BUILD=skip runs the outputs as they are (e.g. while a workspace's sources do not build).
  // eslint-disable-next-line no-restricted-properties -- a switch of the test harness, not app configuration
  if (process.env.E2E_BUILD === 'skip') console.warn('e2e: E2E_BUILD=skip: testing the existing web/build and server/dist');
  else buildIfStale();
}
