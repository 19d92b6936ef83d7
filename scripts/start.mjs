// `npm start`: build whatever is missing or older than its sources, then run
// `bastion serve` in this process (so SIGTERM/SIGINT reach the server directly).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const at = (...parts) => path.join(root, ...parts);

function newestMtime(paths) {
  let newest = 0;
  const visit = (p) => {
    if (!fs.existsSync(p)) return;
    const stat = fs.statSync(p);
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) visit(path.join(p, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

function isStale(output, sources) {
  return !fs.existsSync(output) || fs.statSync(output).mtimeMs < newestMtime(sources);
}

function build(workspace) {
  console.log(`bastion: building ${workspace}…`);
  const result = spawnSync('npm', ['run', 'build', '-w', workspace], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (isStale(at('web', 'build', 'index.html'), [at('web', 'src'), at('web', 'static'), at('web', 'svelte.config.js'), at('web', 'vite.config.ts'), at('web', 'package.json')])) {
  build('web');
}
if (isStale(at('server', 'dist', 'cli.js'), [at('server', 'src'), at('server', 'tsconfig.json'), at('server', 'tsconfig.build.json'), at('server', 'package.json')])) {
  build('server');
}

const { main } = await import(at('server', 'dist', 'cli.js'));
await main(['serve', ...process.argv.slice(2)]);
