/**
 * Taking in a file: streamed to a private temporary file with a hard size stop and
 * hashed on the way, then checked before anything is stored — filename, type from the
 * content, malware (built-in, then ClamAV when configured), and a bounded trial
 * extraction, so a bad file is refused with a 4xx and nothing is written.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../errors.js';
import { detectKind, type DocumentKind } from '../../platform/documents/detect.js';
import { DocumentError } from '../../platform/documents/errors.js';
import { extractText, type ExtractLimits } from '../../platform/documents/extract.js';
import { normalizeFilename } from '../../platform/documents/filename.js';
import { ScannerUnavailableError, type Scanner } from '../../platform/scan/scanner.js';

export interface ReceivedFile {
  path: string;
  size: number;
  sha256: string;
  /** Removes the temporary file; call in a finally. */
  discard(): Promise<void>;
}

let tempRoot: Promise<string> | undefined;

/** A private (0700) directory for uploads in transit, made once per process. */
function uploadDir(): Promise<string> {
  tempRoot ??= mkdtemp(path.join(os.tmpdir(), 'bastion-uploads-'));
  return tempRoot;
}

/** A size as the web app shows it: MB with one decimal when needed ("25 MB", "29.3 MB"), KB below 1 MB. */
export function sizeText(bytes: number): string {
  const [unit, size] = bytes >= 1024 * 1024 ? ['MB', 1024 * 1024] : bytes >= 1024 ? ['KB', 1024] : ['bytes', 1];
  const value = bytes / size;
  return `${value >= 100 ? Math.round(value) : Math.round(value * 10) / 10} ${unit}`;
}

/** Streams to a temporary file; more than `maxBytes` stops the transfer with 413. */
export async function receive(source: Readable, maxBytes: number): Promise<ReceivedFile> {
  const dir = await uploadDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, randomUUID()); // never the client's filename
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new AppError('payload_too_large', `The file is larger than the ${sizeText(maxBytes)} allowed (UPLOAD_MAX_BYTES).`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const discard = () => rm(file, { force: true });
  try {
    await pipeline(source, meter, createWriteStream(file, { mode: 0o600 }));
  } catch (error) {
    await discard();
    throw error;
  }
  return { path: file, size, sha256: hash.digest('hex'), discard };
}

export interface Checked {
  filename: string;
  kind: DocumentKind;
  /** false when ClamAV could not be asked yet: the pipeline scans before parsing. */
  scanned: boolean;
}

export interface IntakeScanners {
  builtin: Scanner;
  /** ClamAV, when CLAMD_URL is set. */
  clamav: Scanner | null;
}

export const DOCUMENT_ERRORS: Record<DocumentError['code'], { code: 'invalid_filename' | 'unsupported_file_type' | 'invalid_file' | 'payload_too_large'; message: string }> = {
  empty_file: { code: 'invalid_file', message: 'The file is empty.' },
  unsupported_type: { code: 'unsupported_file_type', message: 'Only txt, md, html, pdf, docx, csv and json files are accepted.' },
  type_mismatch: { code: 'unsupported_file_type', message: 'The file’s content does not match its extension or declared type.' },
  invalid_filename: { code: 'invalid_filename', message: 'The filename is not acceptable (empty, too long, or with path or control characters).' },
  archive_limits: { code: 'invalid_file', message: 'The document’s archive exceeds the limits (entries, size or compression ratio).' },
  path_traversal: { code: 'invalid_file', message: 'The document’s archive has entries with unsafe paths.' },
  xml_entities: { code: 'invalid_file', message: 'The document declares XML entities or a DTD, which are refused.' },
  encrypted: { code: 'invalid_file', message: 'Encrypted documents cannot be read; upload an unprotected copy.' },
  parse_timeout: { code: 'invalid_file', message: 'The document took too long to read and was refused.' },
  parse_failed: { code: 'invalid_file', message: 'The document could not be read.' },
  too_large: { code: 'payload_too_large', message: 'The document is too large.' },
};

export function documentError(error: DocumentError): AppError {
  const mapped = DOCUMENT_ERRORS[error.code];
  return new AppError(mapped.code, mapped.message, [{ path: 'file', message: error.code }]);
}

/** Every check that can refuse the file; throws AppError (4xx). Infected files raise `onInfected` first. */
export async function check(
  file: ReceivedFile,
  meta: { filename: string; declaredType?: string | undefined },
  scanners: IntakeScanners,
  limits: ExtractLimits,
  onInfected: (reason: string, scanner: string) => Promise<void>,
): Promise<Checked> {
  try {
    const { name, extension } = normalizeFilename(meta.filename);
    if (file.size === 0) throw new DocumentError('empty_file', 'The file is empty.');
    const kind = await detectKind({ path: file.path, extension, ...(meta.declaredType ? { declaredType: meta.declaredType } : {}) });
    for (const scanner of [scanners.builtin, scanners.clamav]) {
      if (!scanner) continue;
      let verdict;
      try {
        verdict = await scanner.scan({ path: file.path, size: file.size, filename: name });
      } catch (error) {
        if (error instanceof ScannerUnavailableError) return { filename: name, kind, scanned: false }; // held in `scanning`
        throw error;
      }
      if (!verdict.clean) {
        await onInfected(verdict.reason, scanner.name);
        throw new AppError('malware_detected', 'The file was refused by the malware scanner.', [{ path: 'file', message: verdict.reason }]);
      }
    }
    await extractText(file.path, kind, limits); // a trial read: refuses bombs, entities, spinning parsers now
    return { filename: name, kind, scanned: true };
  } catch (error) {
    if (error instanceof DocumentError) throw documentError(error);
    throw error;
  }
}
