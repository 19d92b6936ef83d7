/**
 * The built-in scanner: cheap structural checks that need no signature database and
 * always run, whether or not ClamAV is configured. Reason strings are listed in
 * scanner.ts.
 *
 * It reads the file through one fixed buffer (a rolling window), so memory stays flat
 * whatever the file size: a head read for magic numbers, a bounded central-directory
 * read for ZIP packages, then one pass over the whole file for byte patterns.
 *
 * Verdicts depend on content only, never on the uploaded filename: names lie.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CLEAN, infected, type ScanTarget, type ScanVerdict, type Scanner } from './scanner.js';
import { readAt, readEntry, readZipDirectory, type ZipEntry, type ZipLimits } from './zip.js';

export interface BuiltInScannerOptions {
  /** ZIP packages with more entries are rejected as `unscannable_archive` (default 10,000). */
  maxZipEntries?: number;
  /** ZIP packages with a larger central directory are rejected as `unscannable_archive` (default 4 MiB). */
  maxZipDirectoryBytes?: number;
}

/** Enough for every magic number and for the "%PDF within the first 1024 bytes" rule readers apply. */
const HEAD_BYTES = 1024;
/**
 * Bytes read per step of the content pass. Each read is a round trip through libuv's pool and
 * the event loop; under load each waited a few ms, so a 1 MB upload spent ~20 ms in 16 reads of
 * 64 KB. One buffer of at most this size per scan in progress.
 */
export const SCAN_READ_BYTES = 1024 * 1024;
/** Bytes a pattern check may look at after a match (the longest: a ZIP local header with its name). */
const LOOKAHEAD = 512;
/** Bytes a pattern check may look at before a match (the `>>` before a PDF `stream` keyword). */
const LOOKBEHIND = 32;
const CONTENT_TYPES_MAX_BYTES = 1024 * 1024;

// The EICAR test string is kept encoded so that this source file is not itself detected.
const EICAR = Buffer.from('WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=', 'base64');

// ---------------------------------------------------------------------------
// Magic numbers at offset 0
// ---------------------------------------------------------------------------

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const MAGIC: ReadonlyArray<{ bytes: Buffer; reason: string }> = [
  // DOS/PE: every Windows executable and DLL. No MZ file is a document.
  { bytes: Buffer.from('MZ'), reason: 'executable' },
  { bytes: hex('7f454c46'), reason: 'executable' }, // ELF
  // Mach-O 32/64-bit in both byte orders, and fat binaries. CAFEBABE is also a Java
  // class file: both are programs, so the ambiguity does not matter.
  { bytes: hex('feedface'), reason: 'executable' },
  { bytes: hex('feedfacf'), reason: 'executable' },
  { bytes: hex('cefaedfe'), reason: 'executable' },
  { bytes: hex('cffaedfe'), reason: 'executable' },
  { bytes: hex('cafebabe'), reason: 'executable' },
  { bytes: hex('bebafeca'), reason: 'executable' },
  { bytes: hex('0061736d'), reason: 'executable' }, // WebAssembly
  // Windows shortcut: header size 0x4C and the ShellLink CLSID. A .lnk runs any command.
  { bytes: hex('4c000000 01140200 00000000 c0000000 00000046'), reason: 'executable' },
  // A shebang makes the file runnable by an interpreter once it is marked executable.
  { bytes: Buffer.from('#!'), reason: 'script' },
];

const OLE = hex('d0cf11e0a1b11ae1');
const ZIP_LOCAL = Buffer.from('PK\x03\x04', 'latin1');
const ZIP_END = Buffer.from('PK\x05\x06', 'latin1');
const PDF = Buffer.from('%PDF-');
const IMAGE_MAGIC = [hex('ffd8ff'), hex('89504e470d0a1a0a'), Buffer.from('GIF87a'), Buffer.from('GIF89a')];

function startsWith(head: Buffer, magic: Buffer): boolean {
  return head.length >= magic.length && head.subarray(0, magic.length).equals(magic);
}

function magicReason(head: Buffer): string | null {
  return MAGIC.find((m) => startsWith(head, m.bytes))?.reason ?? null;
}

/** PDF readers accept the header anywhere in the first 1024 bytes, so that is what counts as a PDF. */
function isPdf(head: Buffer): boolean {
  const at = head.indexOf(PDF);
  return at !== -1 && at < HEAD_BYTES;
}

// ---------------------------------------------------------------------------
// OLE compound files
// ---------------------------------------------------------------------------

/**
 * The root storage's CLSID tells Windows Installer files (.msi, .msp, .mst: the
 * {000C108x-0000-0000-C000-000000000046} family) from Office documents. We accept no
 * OLE format at all, so this only picks the more accurate reason: an installer is an
 * executable; anything else (.doc, .xls, .ppt, ...) may carry VBA macros.
 */
async function oleReason(file: FileHandle, head: Buffer): Promise<string> {
  if (head.length < 0x34) return 'macro_enabled_office';
  const sectorShift = head.readUInt16LE(0x1e);
  if (sectorShift !== 9 && sectorShift !== 12) return 'macro_enabled_office';
  const firstDirectorySector = head.readUInt32LE(0x30);
  // Sector n starts after the 512-byte header (one sector for 4 KiB sectors): (n + 1) << shift.
  const rootEntry = await readAt(file, (firstDirectorySector + 1) * 2 ** sectorShift, 0x60);
  if (rootEntry.length < 0x60) return 'macro_enabled_office';
  const clsid = rootEntry.subarray(0x50, 0x60);
  const installer = [0x82, 0x84, 0x86].includes(clsid[0] ?? 0) && clsid.subarray(1).equals(hex('100c00 0000 0000 c000000000000046'));
  return installer ? 'executable' : 'macro_enabled_office';
}

// ---------------------------------------------------------------------------
// ZIP packages (docx)
// ---------------------------------------------------------------------------

/** Names Windows runs or interprets directly; none belongs in a document package. */
const EXECUTABLE_EXTENSIONS = new Set(['exe', 'dll', 'com', 'scr', 'pif', 'cpl', 'sys', 'msi', 'msp', 'lnk', 'jar', 'js', 'jse', 'vbs', 'vbe', 'wsf', 'wsh', 'hta', 'ps1', 'psm1', 'bat', 'cmd']);

/**
 * OOXML puts VBA projects in `vbaProject.bin`, ActiveX controls and embedded OLE objects
 * (which can wrap any program) in other `.bin` parts. Printer settings are the one
 * harmless `.bin` part Word writes; a renamed VBA project there would still need a
 * macro content type, which the [Content_Types].xml check catches.
 */
function entryNameReason(name: string): string | null {
  const lower = name.toLowerCase();
  const base = lower.slice(lower.lastIndexOf('/') + 1);
  if (base === 'vbaproject.bin' || base === 'vbadata.xml') return 'macro_enabled_office';
  if (/^(word|xl|ppt)\//.test(lower) && base.endsWith('.bin') && !lower.includes('/printersettings/')) {
    return 'macro_enabled_office';
  }
  const dot = base.lastIndexOf('.');
  if (dot !== -1 && EXECUTABLE_EXTENSIONS.has(base.slice(dot + 1))) return 'executable';
  return null;
}

/** Macro-enabled packages (docm, xlsm, ...) declare it in their content types, whatever the part names. */
async function contentTypesReason(file: FileHandle, entries: ZipEntry[]): Promise<string | null> {
  const entry = entries.find((e) => e.name === '[Content_Types].xml');
  if (!entry) return null;
  const xml = await readEntry(file, entry, CONTENT_TYPES_MAX_BYTES);
  if (!xml) return 'unscannable_archive';
  return /macroEnabled|vbaProject/i.test(xml.toString('utf8')) ? 'macro_enabled_office' : null;
}

async function zipReason(file: FileHandle, size: number, limits: ZipLimits): Promise<string | null> {
  const directory = await readZipDirectory(file, size, limits);
  if (!directory.ok) return 'unscannable_archive';
  for (const entry of directory.entries) {
    if (entry.encrypted) return 'encrypted_archive';
    const reason = entryNameReason(entry.name);
    if (reason) return reason;
  }
  return contentTypesReason(file, directory.entries);
}

// ---------------------------------------------------------------------------
// Patterns over the whole file (rolling window)
// ---------------------------------------------------------------------------

/**
 * A view of the file: `buffer[0]` is at file offset `offset`. Checks report matches that
 * start in [start, end); bytes up to LOOKAHEAD past `end` (unless at end of file) and
 * LOOKBEHIND before `start` are there to look at, and matches from `end` on are seen
 * again in the next window.
 */
interface Window {
  buffer: Buffer;
  start: number;
  end: number;
  offset: number;
  fileSize: number;
}

interface WindowCheck {
  readonly reason: string;
  /** True when the window holds a match. May keep state between windows. */
  test(window: Window): boolean;
}

/** Each occurrence of `pattern` starting in [from, end). */
function* occurrences(buffer: Buffer, pattern: Buffer | number, from: number, end: number): Generator<number> {
  for (let at = buffer.indexOf(pattern, from); at !== -1 && at < end; at = buffer.indexOf(pattern, at + 1)) yield at;
}

const eicarCheck = (): WindowCheck => ({
  reason: 'eicar_test_signature',
  test: (w) => !occurrences(w.buffer, EICAR, w.start, w.end).next().done,
});

// Compression methods defined by APPNOTE; anything else is not a real local header.
const ZIP_METHODS = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 14, 18, 19, 93, 95, 96, 97, 98, 99]);

/**
 * A ZIP local file header, checked beyond its 4-byte signature so random bytes in a
 * compressed PDF stream (a 4-byte match every few MB) are not taken for one.
 */
function isLocalHeader(b: Buffer, at: number): boolean {
  if (at + 30 > b.length) return false;
  const version = b.readUInt16LE(at + 4);
  const flags = b.readUInt16LE(at + 6);
  const nameLength = b.readUInt16LE(at + 26);
  if (version > 63 || (flags & 0xc780) !== 0 || !ZIP_METHODS.has(b.readUInt16LE(at + 8))) return false;
  if (nameLength === 0 || at + 30 + nameLength > b.length) return false;
  return b.subarray(at + 30, at + 30 + nameLength).every((c) => c >= 0x20 && c !== 0x7f);
}

/** A ZIP end record: single disk, a directory before it and a comment that fits the file. */
function isEndRecord(w: Window, at: number): boolean {
  const b = w.buffer;
  if (at + 22 > b.length) return false;
  if (b.readUInt16LE(at + 4) !== 0 || b.readUInt16LE(at + 6) !== 0) return false;
  if (b.readUInt16LE(at + 8) !== b.readUInt16LE(at + 10)) return false;
  const position = w.offset + at;
  const directorySize = b.readUInt32LE(at + 12);
  const directoryOffset = b.readUInt32LE(at + 16);
  const zip64 = directorySize === 0xffffffff || directoryOffset === 0xffffffff;
  if (!zip64 && directoryOffset + directorySize > position) return false;
  return position + 22 + b.readUInt16LE(at + 20) <= w.fileSize;
}

/** A ZIP archive inside a file that is not one: the PDF/ZIP and image/ZIP polyglots. */
const embeddedZipCheck = (): WindowCheck => ({
  reason: 'polyglot',
  test(w) {
    for (const at of occurrences(w.buffer, ZIP_LOCAL, w.start, w.end)) {
      if (w.offset + at > 0 && isLocalHeader(w.buffer, at)) return true;
    }
    for (const at of occurrences(w.buffer, ZIP_END, w.start, w.end)) {
      if (w.offset + at > 0 && isEndRecord(w, at)) return true;
    }
    return false;
  },
});

const PDF_WHITESPACE = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const PDF_DELIMITERS = new Set([...PDF_WHITESPACE, ...Buffer.from('()<>[]{}/%')]);
const STREAM = Buffer.from('stream');
const END_STREAM = Buffer.from('endstream');
const SCRIPT_NAMES = new Set(['JS', 'JavaScript']);

/** The PDF name starting after the `/` at `slash`, with `#xx` escapes decoded (`/J#53` is `/JS`). */
function pdfName(b: Buffer, slash: number): string {
  let name = '';
  for (let i = slash + 1; i < b.length && i < slash + 64 && !PDF_DELIMITERS.has(b[i] ?? 0); i++) {
    const escaped = b[i] === 0x23 ? b.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(escaped)) {
      name += String.fromCharCode(parseInt(escaped, 16));
      i += 2;
    } else {
      name += String.fromCharCode(b[i] ?? 0);
    }
  }
  return name;
}

function hasScriptName(b: Buffer, from: number, end: number): boolean {
  for (const slash of occurrences(b, 0x2f, from, end)) {
    const next = b[slash + 1];
    if ((next === 0x4a /* J */ || next === 0x23) /* # */ && SCRIPT_NAMES.has(pdfName(b, slash))) return true;
  }
  return false;
}

/** A `stream` keyword that opens stream data: after a dictionary's `>>`, before an end of line. */
function isStreamStart(b: Buffer, at: number): boolean {
  const after = b[at + STREAM.length];
  if (after !== 0x0a && after !== 0x0d) return false;
  let i = at - 1;
  while (i >= 0 && at - i <= LOOKBEHIND - 2 && PDF_WHITESPACE.has(b[i] ?? 0)) i--;
  return i >= 1 && b[i] === 0x3e && b[i - 1] === 0x3e;
}

/**
 * `/JS` or `/JavaScript` in a PDF: a document that runs code when opened. Only the
 * object syntax between streams is searched: stream data is mostly compressed bytes,
 * where a 3-byte name would turn up by chance in a sizeable share of large PDFs.
 * Script inside compressed object streams is not seen here (ClamAV parses PDFs).
 */
function pdfScriptCheck(): WindowCheck {
  let inStream = false;
  let resumeAt = 0; // file offset where the previous window stopped examining
  return {
    reason: 'pdf_javascript',
    test(w) {
      let at = Math.max(w.start, resumeAt - w.offset);
      while (at < w.end) {
        if (inStream) {
          const end = occurrences(w.buffer, END_STREAM, at, w.end).next();
          if (end.done) break;
          inStream = false;
          at = end.value + END_STREAM.length;
          continue;
        }
        let streamAt = -1;
        for (const s of occurrences(w.buffer, STREAM, at, w.end)) {
          if (isStreamStart(w.buffer, s)) {
            streamAt = s;
            break;
          }
        }
        if (hasScriptName(w.buffer, at, streamAt === -1 ? w.end : streamAt)) return true;
        if (streamAt === -1) break;
        inStream = true;
        at = streamAt + STREAM.length;
      }
      resumeAt = w.offset + Math.max(at, w.end);
      return false;
    },
  };
}

function contentChecks(head: Buffer): WindowCheck[] {
  const checks = [eicarCheck()];
  if (isPdf(head)) checks.push(embeddedZipCheck(), pdfScriptCheck());
  else if (IMAGE_MAGIC.some((m) => startsWith(head, m))) checks.push(embeddedZipCheck());
  return checks;
}

/** One pass over the file through a fixed buffer; the first check to match gives the reason. */
async function scanContent(file: FileHandle, size: number, checks: WindowCheck[], signal?: AbortSignal): Promise<string | null> {
  // No bigger than the file needs, and no smaller than 64 KB (a file that grew is still read in steps).
  const buffer = Buffer.allocUnsafe(LOOKBEHIND + LOOKAHEAD + Math.min(SCAN_READ_BYTES, Math.max(64 * 1024, size)));
  let kept = 0; // bytes carried over from the previous window, at buffer[0..kept)
  let start = 0;
  let offset = 0;
  let position = 0;
  for (;;) {
    signal?.throwIfAborted();
    const { bytesRead } = await file.read(buffer, kept, buffer.length - kept, position);
    position += bytesRead;
    const length = kept + bytesRead;
    const atEnd = bytesRead === 0 || position >= size;
    const end = atEnd ? length : Math.max(start, length - LOOKAHEAD);
    const window: Window = { buffer: buffer.subarray(0, length), start, end, offset, fileSize: Math.max(size, position) };
    const hit = checks.find((check) => check.test(window));
    if (hit) return hit.reason;
    if (atEnd) return null;
    const keepFrom = Math.max(0, end - LOOKBEHIND);
    buffer.copy(buffer, 0, keepFrom, length);
    kept = length - keepFrom;
    start = end - keepFrom;
    offset += keepFrom;
  }
}

// ---------------------------------------------------------------------------

export class BuiltInScanner implements Scanner {
  readonly name = 'builtin';
  private readonly zipLimits: ZipLimits;

  constructor(options: BuiltInScannerOptions = {}) {
    this.zipLimits = {
      maxEntries: options.maxZipEntries ?? 10_000,
      maxDirectoryBytes: options.maxZipDirectoryBytes ?? 4 * 1024 * 1024,
    };
  }

  async scan(target: ScanTarget, signal?: AbortSignal): Promise<ScanVerdict> {
    signal?.throwIfAborted();
    const file = await open(target.path, 'r');
    try {
      const reason = await this.inspect(file, signal);
      return reason ? infected(reason) : CLEAN;
    } finally {
      await file.close();
    }
  }

  private async inspect(file: FileHandle, signal?: AbortSignal): Promise<string | null> {
    // The file system's size, not the recorded one: it is what gets read and stored.
    const { size } = await file.stat();
    const head = await readAt(file, 0, HEAD_BYTES);
    const magic = magicReason(head);
    if (magic) return magic;
    if (startsWith(head, OLE)) return oleReason(file, head);
    if (startsWith(head, ZIP_LOCAL) || startsWith(head, ZIP_END)) {
      const reason = await zipReason(file, size, this.zipLimits);
      if (reason) return reason;
    }
    signal?.throwIfAborted();
    return scanContent(file, size, contentChecks(head), signal);
  }
}
