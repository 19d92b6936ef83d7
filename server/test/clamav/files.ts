/**
 * Files for the scanner tests (src/platform/scan/*.test.ts), written to a temp dir.
 * The EICAR string is assembled at run time so no source file contains it whole.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScanTarget } from '../../src/platform/scan/scanner.js';

export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

export class TestFiles {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-scan-'));
  private count = 0;

  write(name: string, content: Buffer | string): ScanTarget {
    const file = path.join(this.dir, `${++this.count}-${name}`);
    fs.writeFileSync(file, content);
    return { path: file, size: fs.statSync(file).size, filename: name };
  }

  /**
   * A large text file written 1 MiB at a time (so the test itself holds no big buffer),
   * with `tail` appended at the end.
   */
  writeLarge(name: string, megabytes: number, tail = ''): ScanTarget {
    const file = path.join(this.dir, `${++this.count}-${name}`);
    const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n';
    const chunk = Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length))).subarray(0, 1024 * 1024);
    const fd = fs.openSync(file, 'w');
    try {
      for (let i = 0; i < megabytes; i++) fs.writeSync(fd, chunk);
      if (tail) fs.writeSync(fd, tail);
    } finally {
      fs.closeSync(fd);
    }
    return { path: file, size: fs.statSync(file).size, filename: name };
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs `work` while sampling ArrayBuffer memory (where file buffers live) and returns
 * its result with the peak growth over the starting level.
 */
export async function withMemoryPeak<T>(work: () => Promise<T>): Promise<{ result: T; peakGrowthBytes: number }> {
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 2);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    return { result, peakGrowthBytes: peak - base };
  } finally {
    clearInterval(timer);
  }
}

/** A minimal one-page PDF; `extraObjects` go before the trailer, `stream` (raw bytes) becomes a FlateDecode content stream. */
export function pdf(options: { extraObjects?: string; streamData?: Buffer } = {}): Buffer {
  const streamData = options.streamData ?? Buffer.from('BT /F1 12 Tf 72 712 Td (Hello) Tj ET');
  return Buffer.concat([
    Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'),
    Buffer.from('1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n'),
    Buffer.from('2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n'),
    Buffer.from('3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>\nendobj\n'),
    Buffer.from(`4 0 obj\n<< /Length ${streamData.length} /Filter /FlateDecode >>\nstream\n`),
    streamData,
    Buffer.from('\nendstream\nendobj\n'),
    Buffer.from(options.extraObjects ?? ''),
    Buffer.from('trailer\n<< /Root 1 0 R /Size 5 >>\n%%EOF\n'),
  ]);
}
