// Prints, after a run, the ten slowest test files and every test that used more than half
// of its timeout: a test that close to its limit is the next flake on a loaded CI machine.
import type { Reporter, TestModule } from 'vitest/node';

const SLOWEST = 10;
const DEFAULT_TIMEOUT_MS = 30_000;

export default class TimingReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const files = modules.map((m) => ({ file: m.relativeModuleId, ms: m.diagnostic().duration })).sort((a, b) => b.ms - a.ms);
    const lines = [`\nslowest ${SLOWEST} test files:`];
    for (const f of files.slice(0, SLOWEST)) lines.push(`  ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${f.file}`);

    const close: string[] = [];
    for (const m of modules) {
      for (const test of m.children.allTests()) {
        const ms = test.diagnostic()?.duration;
        const timeout = test.options.timeout ?? DEFAULT_TIMEOUT_MS;
        if (ms !== undefined && ms > timeout / 2) close.push(`  ${(ms / 1000).toFixed(1)} s of ${timeout / 1000} s  ${m.relativeModuleId} > ${test.fullName}`);
      }
    }
    lines.push(close.length ? `tests over half their timeout (${close.length}):` : 'no test took more than half of its timeout');
    lines.push(...close);
    process.stdout.write(lines.join('\n') + '\n');
  }
}
