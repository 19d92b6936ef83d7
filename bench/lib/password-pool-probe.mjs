// Run by bench/password-pool.ts with plain node, as `bastion serve` runs (a TypeScript loader
// would also load into each worker thread and slow its start): times verifications in the
// compiled password pool of the dist folder given, back to back and after a quiet spell.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [dist, quietSeconds] = process.argv.slice(2);
const quietMs = Number(quietSeconds) * 1000;
const PASSWORD = 'correct horse battery staple';
const pool = await import(pathToFileURL(path.join(dist, 'modules/auth/password-pool.js')).href);
const { ARGON2_PARAMS } = await import(pathToFileURL(path.join(dist, 'modules/auth/passwords.js')).href);
const ms = (since) => Number((performance.now() - since).toFixed(1));
const result = {};
let t = performance.now();
if (pool.warmPasswordPool) {
  await pool.warmPasswordPool();
  result.warmUp = ms(t);
}
t = performance.now();
const hash = await pool.hashInPool(PASSWORD, ARGON2_PARAMS);
result.firstHash = ms(t);
async function verify() {
  const started = performance.now();
  if (!(await pool.verifyInPool(hash, PASSWORD))) throw new Error('the password did not verify');
  return ms(started);
}
result.backToBack = [await verify(), await verify(), await verify()];
await new Promise((resolve) => setTimeout(resolve, quietMs));
result.afterQuiet = await verify();
result.next = await verify();
console.log(JSON.stringify(result));
process.exit(0);
