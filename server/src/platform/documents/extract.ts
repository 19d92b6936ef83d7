/**
 * Text of a document of a known kind, within limits: text kinds are decoded as UTF-8,
 * CSV cells that a spreadsheet would run as formulas are neutralised, HTML is stripped
 * without executing anything, docx goes through docx.ts, and PDFs are parsed in a
 * worker thread with a heap limit and a wall-clock timeout (a hostile PDF that makes the
 * parser spin or balloon is cut off and refused).
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { readText, type DocumentKind } from './detect.js';
import { docxText } from './docx.js';
import { DocumentError } from './errors.js';
import { htmlToText } from './html.js';
import { isReferencePage, joinHyphenated, referencePageToMarkdown } from './reference-page.js';

export interface ExtractLimits {
  maxChars: number;
  pdfTimeoutMs: number;
  pdfMaxMemoryMb: number;
  zipMaxEntries: number;
  zipMaxTotalBytes: number;
  zipMaxRatio: number;
}

export interface ExtractedDocument {
  text: string;
  title?: string;
  truncated?: boolean;
}

/** A spreadsheet would evaluate cells starting with these (CSV injection): prefix a quote. */
export function neutralizeCsvCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function csvText(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) =>
      line
        .split(',')
        .map((cell) => neutralizeCsvCell(cell.trim()))
        .join(', '),
    )
    .join('\n');
}

/**
 * The PDF worker's code. Kept as source text (an eval worker) so it runs the same from
 * the TypeScript sources and from dist/ with no loader or build step. pdf.js needs no
 * network for text: font faces and eval are off.
 */
const PDF_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
// Typed arrays live outside the V8 heap, so resourceLimits does not bound them: a small PDF
// whose streams inflate to gigabytes would grow the whole process. Refuse any single
// typed-array allocation over the budget before pdf.js is loaded.
const limit = workerData.maxArrayBytes;
for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
  const Original = globalThis[name];
  if (!Original) continue;
  const size = Original.BYTES_PER_ELEMENT || 1;
  const Guarded = new Proxy(Original, {
    construct(target, args, newTarget) {
      if (typeof args[0] === 'number' && args[0] * size > limit) throw new RangeError('allocation over the document memory budget');
      if (args[0] && typeof args[0].length === 'number' && !(args[0] instanceof ArrayBuffer) && args[0].length * size > limit) throw new RangeError('allocation over the document memory budget');
      return Reflect.construct(target, args, newTarget === Guarded ? target : newTarget);
    },
  });
  globalThis[name] = Guarded;
}
// Text items are joined as pdf.js's own find bar does: a font change (a ligature glyph from
// another subset font, say) splits a word into items that must not gain a space ("fi le:///").
// pdf.js emits the spaces it sees as items of their own; a space is added here only where the
// next item starts visibly to the right of the last on the same line, or on another line.
function joinItems(items) {
  let out = '';
  let last = null;
  for (const item of items) {
    if (!('str' in item)) continue;
    const str = item.str.replace(/[\\uFB00-\\uFB06]/g, (ligature) => ligature.normalize('NFKC'));
    if (last && !last.hasEOL && str !== '' && !/\\s$/.test(out) && !/^\\s/.test(str) && apart(last, item)) out += ' ';
    out += str + (item.hasEOL ? '\\n' : '');
    if (str !== '' || item.hasEOL) last = item;
  }
  return out;
}
function apart(a, b) {
  const size = Math.max(Math.abs(a.transform[3]) || 0, Math.abs(b.transform[3]) || 0, a.height || 0, 1);
  if (a.transform[1] !== 0 || a.transform[2] !== 0) return false; // rotated or skewed: trust pdf.js's own spaces
  if (Math.abs(b.transform[5] - a.transform[5]) > size * 0.5) return true; // another line
  return b.transform[4] - (a.transform[4] + a.width) > size * 0.15;
}
(async () => {
  try {
    const { getDocument } = await import(workerData.pdfjs);
    const pdf = await getDocument({ data: workerData.data, isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise;
    const pages = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const content = await (await pdf.getPage(n)).getTextContent();
      pages.push(joinItems(content.items).trim());
    }
    const meta = await pdf.getMetadata().catch(() => null);
    const title = meta && meta.info && typeof meta.info.Title === 'string' ? meta.info.Title : undefined;
    parentPort.postMessage({ ok: true, text: pages.join('\\n\\n'), title });
  } catch (error) {
    parentPort.postMessage({ ok: false, encrypted: Boolean(error && error.name === 'PasswordException'), tooLarge: /memory budget/.test(String(error && error.message)), reason: String(error && error.message) });
  }
})();
`;
const PDFJS = import.meta.resolve('pdfjs-dist/legacy/build/pdf.mjs');

function pdfText(data: Uint8Array, limits: ExtractLimits, signal?: AbortSignal): Promise<ExtractedDocument> {
  const worker = new Worker(PDF_WORKER, {
    eval: true,
    workerData: { data, pdfjs: PDFJS, maxArrayBytes: limits.pdfMaxMemoryMb * 1024 * 1024 },
    resourceLimits: { maxOldGenerationSizeMb: limits.pdfMaxMemoryMb, maxYoungGenerationSizeMb: 32 },
  });
  return new Promise<ExtractedDocument>((resolve, reject) => {
    let settled = false;
    const finish = (result: ExtractedDocument | DocumentError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (result instanceof DocumentError) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new DocumentError('parse_timeout', 'The document took too long to read and was refused.')), limits.pdfTimeoutMs);
    const onAbort = () => finish(new DocumentError('parse_timeout', 'Reading the document was cancelled.'));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (message: { ok: boolean; text?: string; title?: string; encrypted?: boolean; tooLarge?: boolean }) => {
      if (message.ok) finish({ text: message.text ?? '', ...(message.title ? { title: message.title.slice(0, 300) } : {}) });
      else if (message.encrypted) finish(new DocumentError('encrypted', 'Encrypted documents cannot be read; upload an unprotected copy.'));
      else if (message.tooLarge) finish(new DocumentError('too_large', 'The document expands beyond the memory allowed for reading it and was refused.'));
      else finish(new DocumentError('parse_failed', 'The document could not be read.'));
    });
    // Out of memory (resourceLimits) or a crash in the parser.
    worker.once('error', () => finish(new DocumentError('parse_failed', 'The document could not be read within the memory allowed.')));
    worker.once('exit', () => finish(new DocumentError('parse_failed', 'The document could not be read.')));
  });
}

export async function extractText(path: string, kind: DocumentKind, limits: ExtractLimits, signal?: AbortSignal): Promise<ExtractedDocument> {
  let result: ExtractedDocument;
  switch (kind) {
    case 'txt': {
      const text = await readText(path);
      result = { text: isReferencePage(text) ? referencePageToMarkdown(text) : joinHyphenated(text) };
      break;
    }
    case 'md':
      result = { text: await readText(path) };
      break;
    case 'csv':
      result = { text: csvText(await readText(path)) };
      break;
    case 'json':
      try {
        result = { text: JSON.stringify(JSON.parse(await readText(path)), null, 2) };
      } catch (error) {
        if (error instanceof DocumentError) throw error;
        throw new DocumentError('parse_failed', 'The document is not valid JSON.');
      }
      break;
    case 'html':
      result = htmlToText(await readText(path));
      break;
    case 'docx':
      result = docxText(await readFile(path), limits);
      break;
    case 'pdf':
      result = await pdfText(new Uint8Array(await readFile(path)), limits, signal);
      break;
  }
  if (result.text.length > limits.maxChars) return { ...result, text: result.text.slice(0, limits.maxChars), truncated: true };
  return result;
}
