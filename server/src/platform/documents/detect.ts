/**
 * The document's kind from its content — magic bytes for PDF and ZIP (docx must hold
 * word/document.xml), valid UTF-8 for the text kinds — which must agree with the
 * extension and, when the client declared one, the MIME type.
 */
import { open, readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { DocumentError } from './errors.js';

export type DocumentKind = 'txt' | 'md' | 'html' | 'pdf' | 'docx' | 'csv' | 'json';

const EXTENSIONS: Record<string, DocumentKind> = { txt: 'txt', text: 'txt', md: 'md', markdown: 'md', html: 'html', htm: 'html', pdf: 'pdf', docx: 'docx', csv: 'csv', json: 'json' };
const TEXT_TYPES = ['text/plain', 'application/octet-stream', ''];
const DECLARED: Record<DocumentKind, string[]> = {
  txt: TEXT_TYPES,
  md: ['text/markdown', 'text/x-markdown', ...TEXT_TYPES],
  html: ['text/html', 'application/xhtml+xml', ...TEXT_TYPES],
  csv: ['text/csv', 'application/csv', 'application/vnd.ms-excel', ...TEXT_TYPES],
  json: ['application/json', 'text/json', ...TEXT_TYPES],
  pdf: ['application/pdf', 'application/x-pdf', 'application/octet-stream', ''],
  docx: ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/zip', 'application/octet-stream', ''],
};

/**
 * What uploads may be, for clients to check before sending: each kind's extensions and the
 * declared (MIME) types accepted with it (an empty declared type is accepted too). The
 * server still checks every file (detectKind), from its content.
 */
export const ACCEPTED_TYPES: readonly { kind: DocumentKind; extensions: string[]; mimeTypes: string[] }[] = (Object.keys(DECLARED) as DocumentKind[]).map((kind) => ({
  kind,
  extensions: Object.keys(EXTENSIONS).filter((extension) => EXTENSIONS[extension] === kind),
  mimeTypes: DECLARED[kind].filter((type) => type !== ''),
}));

async function head(path: string, bytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const mismatch = () => new DocumentError('type_mismatch', 'The file’s content does not match its extension or declared type.');

export async function detectKind(input: { path: string; extension: string; declaredType?: string }): Promise<DocumentKind> {
  const expected = EXTENSIONS[input.extension];
  if (!expected) throw new DocumentError('unsupported_type', 'Only txt, md, html, pdf, docx, csv and json files are accepted.');
  const start = await head(input.path, 1024);
  if (start.length === 0) throw new DocumentError('empty_file', 'The file is empty.');
  let actual: DocumentKind;
  if (start.subarray(0, 5).toString('latin1') === '%PDF-') actual = 'pdf';
  else if (start.subarray(0, 4).toString('latin1') === 'PK\u0003\u0004') {
    if (expected !== 'docx') throw mismatch();
    // Only the directory is read here (filter returns false: nothing is inflated).
    const names: string[] = [];
    try {
      unzipSync(await readFile(input.path), { filter: (file) => (names.push(file.name), false) });
    } catch {
      throw new DocumentError('parse_failed', 'The document could not be read.');
    }
    if (!names.includes('word/document.xml') || !names.includes('[Content_Types].xml')) throw mismatch();
    actual = 'docx';
  } else {
    const text = await readText(input.path);
    actual = expected === 'pdf' || expected === 'docx' ? 'txt' : expected;
    if (actual === 'json') {
      try {
        JSON.parse(text);
      } catch {
        throw mismatch();
      }
    }
    if (actual === 'html' && !/<(!doctype html|html|head|body|p|div|h[1-6]|title)\b/i.test(text)) throw mismatch();
  }
  if (actual !== expected) throw mismatch();
  const declared = (input.declaredType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!DECLARED[actual].includes(declared)) throw mismatch();
  return actual;
}

/** The whole file as UTF-8; invalid UTF-8 (a binary file) is refused. BOM removed. */
export async function readText(path: string): Promise<string> {
  const bytes = await readFile(path);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new DocumentError('unsupported_type', 'The file is neither valid UTF-8 text nor a PDF or docx document.');
  }
}
