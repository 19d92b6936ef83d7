import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.dirname(WEB_DIR);
export const SERVER_DIR = path.join(ROOT, 'server');
/** Screenshots and server logs of the last run (git-ignored). */
export const ARTIFACTS = path.join(WEB_DIR, 'e2e', 'artifacts');

/** True when the web app has this route (a folder under src/routes, route groups ignored). */
export function hasRoute(pathname: string): boolean {
  const routes = path.join(WEB_DIR, 'src', 'routes');
  const groups = ['', ...fs.readdirSync(routes).filter((entry) => /^\(.+\)$/.test(entry))];
  return groups.some((group) => fs.existsSync(path.join(routes, group, pathname, '+page.svelte')));
}
