/**
 * The password pool after a quiet spell: how long a verification waits when no sign-in came
 * for longer than the pool's idle timeout (30 s), against one right after another.
 *
 *   npm run build -w server && npx tsx bench/password-pool.ts [server/dist of another build]
 *
 * For this checkout's compiled server (and the other dist folder given, to compare builds;
 * the two alternate, BENCH_ROUNDS (2) times each), a plain node process
 * (`bench/lib/password-pool-probe.mjs`) warms the pool up as `bastion serve` does when it
 * listens (when that build can), hashes once, times three verifications back to back, one after
 * BENCH_QUIET_SECONDS (31) without any, and the next. Prints a table; nothing is written.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { loadAverage } from './lib/machine.js';
import { ROOT } from './lib/paths.js';

interface Probe {
  warmUp?: number;
  firstHash: number;
  backToBack: number[];
  afterQuiet: number;
  next: number;
}

const builds = [path.join(ROOT, 'server/dist'), ...process.argv.slice(2).map((dir) => path.resolve(dir))];
const quietSeconds = Number(process.env.BENCH_QUIET_SECONDS ?? 31);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const probe = path.join(ROOT, 'bench/lib/password-pool-probe.mjs');

console.log(`password pool, ${new Date().toISOString()}, quiet spell ${quietSeconds} s, load average ${loadAverage()}\n`);
console.log('| build | round | warm-up at listen ms | first hash ms | back to back ms | after the quiet spell ms | the next ms | load average |');
console.log('|---|---:|---:|---:|---|---:|---:|---:|');
for (let round = 1; round <= rounds; round++) {
  for (const dist of builds) {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const out = execFileSync(process.execPath, [probe, dist, String(quietSeconds)], { env, encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Probe;
    console.log(`| ${path.relative(ROOT, dist) || dist} | ${round} | ${r.warmUp ?? '–'} | ${r.firstHash} | ${r.backToBack.join(', ')} | ${r.afterQuiet} | ${r.next} | ${loadAverage()} |`);
  }
}
