/** Where benches run from and where their reports go. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A fresh private directory under the system temp dir, e.g. for a bench's DATA_DIR. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a report to bench/results/<name> (creating the folder) and returns its path. */
export function writeResult(name: string, report: string): string {
  const file = path.join(ROOT, 'bench', 'results', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, report);
  return file;
}
