#!/usr/bin/env node
// The `bastion` command. Runs the compiled server; `npm run build` (or `npm start`) builds it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('bastion: the server is not built yet; run `npm run build` (or `npm start`) in the repository first.');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
