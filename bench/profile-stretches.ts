/**
 * The longest stretches a V8 CPU profile spent in code matching each pattern (a frame's
 * `functionName url`, as a regular expression), e.g. a profile kept by
 * `BENCH_KEEP_PROFILE=1 npm run bench:chat`:
 *
 *   npx tsx bench/profile-stretches.ts <file.cpuprofile> replaceTerms 'garbage collector'
 */
import { stretches } from './lib/profile.js';

const [file, ...patterns] = process.argv.slice(2);
if (!file || patterns.length === 0) throw new Error('usage: profile-stretches.ts <file.cpuprofile> <pattern>…');
for (const pattern of patterns) {
  const { count, totalMs, longestMs } = stretches(file, new RegExp(pattern));
  console.log(`${pattern}: ${count} stretches, ${totalMs.toFixed(0)} ms in all; longest ${longestMs.map((ms) => ms.toFixed(1)).join(', ')} ms`);
}
