/**
 * ClamdScanner against a real clamd (test/clamav/clamd.ts) on the test signature
 * database. clamd is required: CI installs clamav-daemon.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_FIXTURE, MARKER, TEST_SIGNATURES, findClamd, startClamd, type StartedClamd } from '../../../test/clamav/clamd.js';
import { EICAR, TestFiles, withMemoryPeak } from '../../../test/clamav/files.js';
import { buildZip, docxEntries } from '../../../test/clamav/zip.js';
import { BuiltInScanner } from './builtin.js';
import { ClamdScanner, parseClamdReply } from './clamd.js';
import { CompositeScanner } from './composite.js';
import { ScannerUnavailableError } from './scanner.js';

const files = new TestFiles();
let clamd: StartedClamd;
/** A second clamd with a 1 MB StreamMaxLength, stopped part-way to test an outage. */
let limited: StartedClamd;
const servers: net.Server[] = [];
const serverSockets = new Set<net.Socket>();

beforeAll(async () => {
  expect(findClamd(), 'clamd is not installed: apt-get install clamav-daemon').not.toBeNull();
  const [main, small] = await Promise.all([startClamd(), startClamd({ streamMaxLength: '1M' })]);
  clamd = main!;
  limited = small!;
});

afterAll(async () => {
  await Promise.all([clamd?.stop(), limited?.stop()]);
  for (const socket of serverSockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  files.remove();
});

/** A TCP server that accepts connections and then does `behaviour` (never reply, hang up, ...). */
async function fakeClamd(behaviour: (socket: net.Socket) => void): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    serverSockets.add(socket);
    behaviour(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe('ClamdScanner with a real clamd', () => {
  it('answers PING over TCP and over the unix socket', async () => {
    expect(await new ClamdScanner({ url: clamd.url }).ping()).toBe(true);
    expect(await new ClamdScanner({ url: clamd.unixUrl }).ping()).toBe(true);
  });

  it('reports the custom signature as clamav:<name>', async () => {
    const scanner = new ClamdScanner({ url: clamd.url });
    const verdict = await scanner.scan(files.write('marker.txt', `some text\n${MARKER}\nmore text\n`));
    expect(verdict).toEqual({ clean: false, reason: `clamav:${TEST_SIGNATURES.marker}` });
    expect(scanner.name).toBe('clamav');
  });

  it('matches a file by its MD5 (.hdb signature)', async () => {
    const target = { path: HASH_FIXTURE, size: fs.statSync(HASH_FIXTURE).size };
    expect(await new ClamdScanner({ url: clamd.url }).scan(target)).toEqual({ clean: false, reason: `clamav:${TEST_SIGNATURES.hashFixture}` });
  });

  it('detects EICAR', async () => {
    expect(await new ClamdScanner({ url: clamd.url }).scan(files.write('eicar.txt', EICAR))).toEqual({ clean: false, reason: `clamav:${TEST_SIGNATURES.eicar}` });
  });

  it('finds a signature split across tiny chunks, over the unix socket', async () => {
    const scanner = new ClamdScanner({ url: clamd.unixUrl, maxChunkBytes: 7 });
    expect(await scanner.scan(files.write('marker.md', `# ${MARKER}`))).toEqual({ clean: false, reason: `clamav:${TEST_SIGNATURES.marker}` });
  });

  it.each([
    ['notes.txt', 'Nothing to see here.\n'],
    ['empty.txt', ''],
    ['clean.docx', buildZip(docxEntries())],
  ])('%s → clean', async (name, content) => {
    expect(await new ClamdScanner({ url: clamd.url }).scan(files.write(name, content))).toEqual({ clean: true });
  });

  it('streams a 20 MB clean file with flat memory', async () => {
    const target = files.writeLarge('big.txt', 20);
    const scanner = new ClamdScanner({ url: clamd.url });
    const { result, peakGrowthBytes } = await withMemoryPeak(() => scanner.scan(target));
    expect(result).toEqual({ clean: true });
    expect(peakGrowthBytes).toBeLessThan(8 * 1024 * 1024);
  });

  it('finds a signature at the end of a 20 MB file', async () => {
    const target = files.writeLarge('big.txt', 20, MARKER);
    expect(await new ClamdScanner({ url: clamd.url }).scan(target)).toEqual({ clean: false, reason: `clamav:${TEST_SIGNATURES.marker}` });
  });

  it('is unavailable (not a verdict) when the file exceeds StreamMaxLength', async () => {
    const scanner = new ClamdScanner({ url: limited.url });
    const error = await scanner.scan(files.writeLarge('big.txt', 2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScannerUnavailableError);
    expect((error as Error).message).toMatch(/INSTREAM size limit exceeded/);
    expect(await scanner.scan(files.write('small.txt', 'fine'))).toEqual({ clean: true });
  });

  it('is unavailable once clamd is stopped (connection refused), and PING says false', async () => {
    const scanner = new ClamdScanner({ url: limited.url, timeoutMs: 5000 });
    expect(await scanner.ping()).toBe(true);
    await limited.stop();
    await expect(scanner.scan(files.write('notes.txt', 'hello'))).rejects.toThrow(ScannerUnavailableError);
    await expect(scanner.scan(files.write('notes.txt', 'hello'))).rejects.toThrow(/unreachable \(ECONNREFUSED\)/);
    expect(await scanner.ping()).toBe(false);
    expect(await new ClamdScanner({ url: limited.unixUrl }).ping()).toBe(false);
  });

  it('runs behind the built-in scanner in a composite', async () => {
    const composite = new CompositeScanner([new BuiltInScanner(), new ClamdScanner({ url: clamd.url })]);
    expect(composite.name).toBe('builtin+clamav');
    expect(await composite.scan(files.write('eicar.txt', EICAR))).toEqual({ clean: false, reason: 'eicar_test_signature' });
    expect(await composite.scan(files.write('marker.txt', MARKER))).toEqual({ clean: false, reason: `clamav:${TEST_SIGNATURES.marker}` });
    expect(await composite.scan(files.write('ok.txt', 'ok'))).toEqual({ clean: true });
  });
});

describe('ClamdScanner failures', () => {
  it('times out on a clamd that never answers', async () => {
    const url = await fakeClamd(() => undefined);
    const started = Date.now();
    const scanner = new ClamdScanner({ url, timeoutMs: 300 });
    await expect(scanner.scan(files.write('notes.txt', 'hello'))).rejects.toThrow(/did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await scanner.ping()).toBe(false);
  });

  it('times out on a clamd that stops reading mid-stream', async () => {
    const url = await fakeClamd((socket) => socket.pause());
    const scanner = new ClamdScanner({ url, timeoutMs: 500 });
    const error = await scanner.scan(files.writeLarge('big.txt', 20)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScannerUnavailableError);
  });

  it('is unavailable when clamd hangs up without a reply', async () => {
    const url = await fakeClamd((socket) => socket.destroy());
    await expect(new ClamdScanner({ url }).scan(files.write('notes.txt', 'hello'))).rejects.toThrow(ScannerUnavailableError);
  });

  it('is unavailable on an ERROR reply', async () => {
    const url = await fakeClamd((socket) => socket.end("stream: Can't allocate memory ERROR\0"));
    await expect(new ClamdScanner({ url }).scan(files.write('notes.txt', 'hello'))).rejects.toThrow(/gave no verdict: stream: Can't allocate memory ERROR/);
  });

  it("rejects with the caller's abort reason, not as unavailable", async () => {
    const url = await fakeClamd(() => undefined);
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(new ClamdScanner({ url }).scan(files.write('notes.txt', 'hello'), controller.signal)).rejects.toBe(reason);
  });

  it('passes file errors through as they are', async () => {
    await expect(new ClamdScanner({ url: clamd.url }).scan({ path: '/nonexistent/file.txt', size: 1 })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects malformed URLs at construction', () => {
    for (const url of ['http://127.0.0.1:3310', 'tcp://127.0.0.1', 'unix://', 'nonsense']) {
      expect(() => new ClamdScanner({ url }), url).toThrow(TypeError);
    }
  });
});

describe('parseClamdReply', () => {
  it.each([
    ['stream: OK', { clean: true }],
    ['stream: OK\0', { clean: true }],
    ['stream: Win.Test.EICAR_HDB-1 FOUND', { clean: false, reason: 'clamav:Win.Test.EICAR_HDB-1' }],
    ['stream: Eicar-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND', { clean: false, reason: 'clamav:Eicar-Signature' }],
  ])('%j', (reply, verdict) => {
    expect(parseClamdReply(reply)).toEqual(verdict);
  });

  it.each(['INSTREAM size limit exceeded. ERROR', 'stream: Something ERROR', '', 'PONG'])('%j → unavailable', (reply) => {
    expect(() => parseClamdReply(reply)).toThrow(ScannerUnavailableError);
  });
});
