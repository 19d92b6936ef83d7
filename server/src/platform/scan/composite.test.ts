import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { EICAR, TestFiles } from '../../../test/clamav/files.js';
import { BuiltInScanner } from './builtin.js';
import { ClamdScanner } from './clamd.js';
import { CompositeScanner } from './composite.js';
import { ScannerUnavailableError, type ScanVerdict, type Scanner } from './scanner.js';

const files = new TestFiles();
afterAll(() => files.remove());

const target = { path: '/unused', size: 0 };

/** A scanner that records its calls and answers `outcome` (a verdict, or an error to throw). */
function stub(name: string, outcome: ScanVerdict | Error, calls: string[]): Scanner {
  return {
    name,
    async scan() {
      calls.push(name);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

const clean: ScanVerdict = { clean: true };
const bad = (reason: string): ScanVerdict => ({ clean: false, reason });

describe('CompositeScanner', () => {
  it('runs every scanner in order and is clean when all are', async () => {
    const calls: string[] = [];
    const composite = new CompositeScanner([stub('a', clean, calls), stub('b', clean, calls), stub('c', clean, calls)]);
    expect(await composite.scan(target)).toEqual({ clean: true });
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(composite.name).toBe('a+b+c');
  });

  it('returns the first infected verdict and skips the rest', async () => {
    const calls: string[] = [];
    const composite = new CompositeScanner([stub('a', clean, calls), stub('b', bad('script'), calls), stub('c', bad('clamav:X'), calls)]);
    expect(await composite.scan(target)).toEqual({ clean: false, reason: 'script' });
    expect(calls).toEqual(['a', 'b']);
  });

  it('fails closed: clean elsewhere but one unavailable → ScannerUnavailableError', async () => {
    const calls: string[] = [];
    const composite = new CompositeScanner([stub('a', clean, calls), stub('b', new ScannerUnavailableError('clamd down'), calls)]);
    await expect(composite.scan(target)).rejects.toThrow(ScannerUnavailableError);
    await expect(composite.scan(target)).rejects.toThrow('clamd down');
  });

  it('an infected verdict after an unavailable scanner is still final', async () => {
    const calls: string[] = [];
    const composite = new CompositeScanner([stub('a', new ScannerUnavailableError('down'), calls), stub('b', bad('executable'), calls)]);
    expect(await composite.scan(target)).toEqual({ clean: false, reason: 'executable' });
    expect(calls).toEqual(['a', 'b']);
  });

  it('names every unavailable scanner', async () => {
    const calls: string[] = [];
    const composite = new CompositeScanner([stub('a', new ScannerUnavailableError('first down'), calls), stub('b', new ScannerUnavailableError('second down'), calls)]);
    await expect(composite.scan(target)).rejects.toThrow('first down; second down');
  });

  it('passes other errors through at once', async () => {
    const calls: string[] = [];
    const failure = new Error('disk gone');
    const composite = new CompositeScanner([stub('a', failure, calls), stub('b', clean, calls)]);
    await expect(composite.scan(target)).rejects.toBe(failure);
    expect(calls).toEqual(['a']);
  });

  it('stops when the signal aborts', async () => {
    const calls: string[] = [];
    const controller = new AbortController();
    const first: Scanner = {
      name: 'a',
      async scan() {
        calls.push('a');
        controller.abort(new Error('cancelled'));
        return clean;
      },
    };
    await expect(new CompositeScanner([first, stub('b', clean, calls)]).scan(target, controller.signal)).rejects.toThrow('cancelled');
    expect(calls).toEqual(['a']);
  });

  it('needs at least one scanner', () => {
    expect(() => new CompositeScanner([])).toThrow(RangeError);
  });

  it('with the built-in scanner and an unreachable clamd: infected files are refused, clean ones held [ASVS 5.4.3]', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve())); // nothing listens there now
    const composite = new CompositeScanner([new BuiltInScanner(), new ClamdScanner({ url: `tcp://127.0.0.1:${port}`, timeoutMs: 2000 })]);
    expect(await composite.scan(files.write('eicar.txt', EICAR))).toEqual({ clean: false, reason: 'eicar_test_signature' });
    await expect(composite.scan(files.write('notes.txt', 'fine'))).rejects.toThrow(ScannerUnavailableError);
  });
});
