/**
 * Runs several scanners over one file, in order (cheap built-in checks first, then
 * ClamAV). The first infected verdict is the answer and later scanners are skipped.
 * A file is clean only when every scanner says so: when one is unavailable the rest
 * still run (an infected verdict from them is final, no retry needed), and if none finds
 * anything the composite throws ScannerUnavailableError, so the file is held and retried
 * rather than passed on a partial scan (fail closed). Other errors (the file is missing,
 * the caller aborted) propagate at once.
 */
import { CLEAN, ScannerUnavailableError, type ScanTarget, type ScanVerdict, type Scanner } from './scanner.js';

export class CompositeScanner implements Scanner {
  /** The scanners' names joined with `+`, e.g. `builtin+clamav`. */
  readonly name: string;

  constructor(private readonly scanners: Scanner[]) {
    if (scanners.length === 0) throw new RangeError('CompositeScanner needs at least one scanner');
    this.name = scanners.map((s) => s.name).join('+');
  }

  async scan(target: ScanTarget, signal?: AbortSignal): Promise<ScanVerdict> {
    const unavailable: ScannerUnavailableError[] = [];
    for (const scanner of this.scanners) {
      signal?.throwIfAborted();
      let verdict: ScanVerdict;
      try {
        verdict = await scanner.scan(target, signal);
      } catch (error) {
        if (!(error instanceof ScannerUnavailableError)) throw error;
        unavailable.push(error);
        continue;
      }
      if (!verdict.clean) return verdict;
    }
    const [first] = unavailable;
    if (first) {
      const message = unavailable.length === 1 ? first.message : unavailable.map((e) => e.message).join('; ');
      throw new ScannerUnavailableError(message, { cause: first });
    }
    return CLEAN;
  }
}
