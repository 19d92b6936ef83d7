/** Summaries of V8 CPU profiles (.cpuprofile) for the bench reports. */
import fs from 'node:fs';
import { ROOT } from './paths.js';

/**
 * Top functions by self time from a V8 .cpuprofile, by package and by Bastion file,
 * counting only the samples taken between `fromMs` and `toMs` after the profile started
 * (the load window, not the start-up), as shares of the busy (non-idle) samples.
 */
export function summariseProfile(file: string, fromMs = 0, toMs = Number.POSITIVE_INFINITY): string[] {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const hits = new Map<number, number>();
  let elapsedUs = 0;
  let inWindow = 0;
  profile.samples.forEach((id, i) => {
    elapsedUs += profile.timeDeltas[i] ?? 0;
    if (elapsedUs < fromMs * 1000 || elapsedUs > toMs * 1000) return;
    inWindow++;
    hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byBastionFile = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const count = hits.get(node.id) ?? 0;
    if (count === 0) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += count;
      continue;
    }
    const where = node.callFrame.url.replace(/^.*node_modules\//, '').replace(`file://${ROOT}`, '') || '(native)';
    const key = `${node.callFrame.functionName || '(anonymous)'} — ${where}${where.startsWith('server/') ? `:${node.callFrame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + count);
    const pkg = where.startsWith('server/')
      ? 'bastion (server/dist)'
      : where.startsWith('node:')
        ? where.split('/')[0]!
        : where.startsWith('(')
          ? where
          : where
              .split('/')
              .slice(0, where.startsWith('@') ? 2 : 1)
              .join('/');
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + count);
    if (where.startsWith('server/')) byBastionFile.set(where, (byBastionFile.get(where) ?? 0) + count);
  }
  const busy = inWindow - idle;
  const pct = (n: number) => `${((n / busy) * 100).toFixed(1)}%`;
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    `${inWindow} samples in the load window, ${((idle / inWindow) * 100).toFixed(0)}% idle; shares below are of the ${busy} busy samples.`,
    '',
    '| where (package) | share of busy samples (self) |',
    '|---|---:|',
    ...[...byPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([k, v]) => `| ${esc(k)} | ${pct(v)} |`),
    '',
    '| top functions (self time) | share |',
    '|---|---:|',
    ...[...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25)
      .map(([k, v]) => `| ${esc(k)} | ${pct(v)} |`),
    '',
    '| Bastion files (self time) | share |',
    '|---|---:|',
    ...[...byBastionFile]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k, v]) => `| ${esc(k)} | ${pct(v)} |`),
  ];
}

/**
 * How long the event loop stayed in code matching `pattern` without a break: runs of
 * consecutive samples whose stack has a frame (`functionName url`) matching it. A long
 * stretch delays everything else the process serves, which a share of CPU does not show.
 */
export function stretches(file: string, pattern: RegExp): { count: number; totalMs: number; longestMs: number[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const matches = new Map<number, boolean>();
  const inside = (id: number): boolean => {
    let found = matches.get(id);
    if (found !== undefined) return found;
    found = false;
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const frame = byId.get(x)!.callFrame;
      if (pattern.test(`${frame.functionName} ${frame.url}`)) {
        found = true;
        break;
      }
    }
    matches.set(id, found);
    return found;
  };
  const runs: number[] = [];
  let current = 0;
  profile.samples.forEach((id, i) => {
    // A sample's time is the gap to the next one.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (inside(id)) current += ms;
    else if (current > 0) {
      runs.push(current);
      current = 0;
    }
  });
  if (current > 0) runs.push(current);
  runs.sort((a, b) => b - a);
  return { count: runs.length, totalMs: runs.reduce((a, b) => a + b, 0), longestMs: runs.slice(0, 10) };
}
