/**
 * Reads a ZIP archive's central directory without extracting anything, for the
 * built-in scanner's checks on OOXML (docx) packages. Reading is bounded by entry
 * count and directory size; an archive beyond the limits, or whose structure does
 * not add up, is reported as a problem rather than half-inspected, because the gap
 * between what a scanner reads and what an application opens is where malware hides.
 *
 * Offsets are taken as relative to the start of the file: callers only inspect files
 * that begin with a local file header, so a self-extracting or prefixed archive (whose
 * directory would not line up) is a problem too.
 */
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const inflateRaw = promisify(zlib.inflateRaw);

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const END_OF_DIRECTORY_SIZE = 22;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const MAX_COMMENT = 0xffff;

/** Flag bit 0: the entry is encrypted; bit 6: strong encryption. Method 99: WinZip AES. */
const ENCRYPTED_FLAGS = 0x0001 | 0x0040;
const AES_METHOD = 99;
/** Flag bit 11: the name is UTF-8 (otherwise CP437; latin1 keeps ASCII checks exact). */
const UTF8_FLAG = 0x0800;

export interface ZipLimits {
  maxEntries: number;
  maxDirectoryBytes: number;
}

export interface ZipEntry {
  name: string;
  encrypted: boolean;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Where the entry's (compressed) data starts, past its local header. */
  dataOffset: number;
}

export type ZipDirectory = { ok: true; entries: ZipEntry[] } | { ok: false; problem: string };

interface DirectoryLocation {
  entryCount: number;
  directoryOffset: number;
  directorySize: number;
  /** Where the directory must end: the (ZIP64) end record that follows it. */
  directoryEnd: number;
}

interface CentralEntry {
  rawName: Buffer;
  flags: number;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

/** Reads up to `length` bytes at `position`; shorter only at end of file. */
export async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

function fail(problem: string): ZipDirectory {
  return { ok: false, problem };
}

/**
 * The end-of-central-directory record, searched backwards from the end. It must end
 * exactly at the end of the file (after its comment): trailing bytes would be a second
 * payload that this inspection never looks at.
 */
async function findEndRecord(file: FileHandle, size: number): Promise<{ position: number; record: Buffer } | null> {
  const tailLength = Math.min(size, END_OF_DIRECTORY_SIZE + MAX_COMMENT);
  const tail = await readAt(file, size - tailLength, tailLength);
  for (let i = tail.length - END_OF_DIRECTORY_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== END_OF_DIRECTORY) continue;
    if (i + END_OF_DIRECTORY_SIZE + tail.readUInt16LE(i + 20) !== tail.length) continue;
    return { position: size - tailLength + i, record: tail.subarray(i, i + END_OF_DIRECTORY_SIZE) };
  }
  return null;
}

function readUInt64(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64LE(offset);
  // Beyond 2^53 nothing in a 50 MB upload can be right; Infinity fails every bounds check.
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
}

/** Where the central directory is, from the end record and, when present, the ZIP64 one. */
async function locateDirectory(file: FileHandle, size: number): Promise<DirectoryLocation | string> {
  const end = await findEndRecord(file, size);
  if (!end) return 'no end-of-central-directory record at the end of the file';
  const { record, position } = end;
  const disk = record.readUInt16LE(4);
  const directoryDisk = record.readUInt16LE(6);
  const entriesOnDisk = record.readUInt16LE(8);
  let location: DirectoryLocation = {
    entryCount: record.readUInt16LE(10),
    directorySize: record.readUInt32LE(12),
    directoryOffset: record.readUInt32LE(16),
    directoryEnd: position,
  };

  const locator = position >= 20 ? await readAt(file, position - 20, 20) : Buffer.alloc(0);
  if (locator.length === 20 && locator.readUInt32LE(0) === ZIP64_LOCATOR) {
    const recordOffset = readUInt64(locator, 8);
    if (!(recordOffset + 56 <= position - 20)) return 'ZIP64 locator points outside the file';
    const zip64 = await readAt(file, recordOffset, 56);
    if (zip64.length < 56 || zip64.readUInt32LE(0) !== ZIP64_END_OF_DIRECTORY) return 'ZIP64 end record missing';
    if (zip64.readUInt32LE(16) !== 0 || zip64.readUInt32LE(20) !== 0) return 'multi-disk archive';
    if (readUInt64(zip64, 24) !== readUInt64(zip64, 32)) return 'multi-disk archive';
    location = {
      entryCount: readUInt64(zip64, 32),
      directorySize: readUInt64(zip64, 40),
      directoryOffset: readUInt64(zip64, 48),
      directoryEnd: recordOffset,
    };
  } else if (disk !== 0 || directoryDisk !== 0 || entriesOnDisk !== location.entryCount) {
    return 'multi-disk archive';
  }
  // No gap may hide between the directory and the end record.
  if (location.directoryOffset + location.directorySize !== location.directoryEnd) {
    return 'central directory does not end at the end record';
  }
  return location;
}

/** Sizes and offset that overflow 32 bits live in the ZIP64 extra field (id 0x0001), in this order. */
function applyZip64Extra(entry: CentralEntry, extra: Buffer): void {
  for (let p = 0; p + 4 <= extra.length;) {
    const id = extra.readUInt16LE(p);
    const length = extra.readUInt16LE(p + 2);
    const body = extra.subarray(p + 4, p + 4 + length);
    p += 4 + length;
    if (id !== 0x0001) continue;
    let q = 0;
    const next = (): number => {
      if (q + 8 > body.length) return Number.POSITIVE_INFINITY;
      const value = readUInt64(body, q);
      q += 8;
      return value;
    };
    if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = next();
    if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
    if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
    return;
  }
}

function parseDirectory(directory: Buffer, entryCount: number): CentralEntry[] | string {
  const entries: CentralEntry[] = [];
  let p = 0;
  for (let i = 0; i < entryCount; i++) {
    if (p + CENTRAL_HEADER_SIZE > directory.length || directory.readUInt32LE(p) !== CENTRAL_HEADER) {
      return 'central directory entry is malformed';
    }
    const nameLength = directory.readUInt16LE(p + 28);
    const extraLength = directory.readUInt16LE(p + 30);
    const commentLength = directory.readUInt16LE(p + 32);
    const next = p + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (next > directory.length) return 'central directory entry overruns the directory';
    const entry: CentralEntry = {
      rawName: directory.subarray(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLength),
      flags: directory.readUInt16LE(p + 8),
      method: directory.readUInt16LE(p + 10),
      compressedSize: directory.readUInt32LE(p + 20),
      uncompressedSize: directory.readUInt32LE(p + 24),
      localHeaderOffset: directory.readUInt32LE(p + 42),
    };
    const extraStart = p + CENTRAL_HEADER_SIZE + nameLength;
    applyZip64Extra(entry, directory.subarray(extraStart, extraStart + extraLength));
    entries.push(entry);
    p = next;
  }
  return p === directory.length ? entries : 'central directory holds more than its entry count';
}

/**
 * Each entry's local header must agree with the directory (same name, inside the data
 * area): applications that walk local headers and ones that read the directory must see
 * the same files. The local flags count too: encryption flagged only there is still
 * encryption.
 */
async function checkLocalHeader(file: FileHandle, entry: CentralEntry, dataEnd: number): Promise<ZipEntry | string> {
  const nameLength = entry.rawName.length;
  if (!(entry.localHeaderOffset + LOCAL_HEADER_SIZE + nameLength <= dataEnd)) return 'entry lies outside the data area';
  const header = await readAt(file, entry.localHeaderOffset, LOCAL_HEADER_SIZE + nameLength);
  if (header.length < LOCAL_HEADER_SIZE || header.readUInt32LE(0) !== LOCAL_HEADER) return 'local header missing';
  if (header.readUInt16LE(26) !== nameLength || !header.subarray(LOCAL_HEADER_SIZE).equals(entry.rawName)) {
    return 'local header name differs from the central directory';
  }
  const dataOffset = entry.localHeaderOffset + LOCAL_HEADER_SIZE + nameLength + header.readUInt16LE(28);
  if (!(dataOffset + entry.compressedSize <= dataEnd)) return 'entry data overruns the data area';
  const flags = entry.flags | header.readUInt16LE(6);
  return {
    name: entry.rawName.toString(flags & UTF8_FLAG ? 'utf8' : 'latin1'),
    encrypted: (flags & ENCRYPTED_FLAGS) !== 0 || entry.method === AES_METHOD || header.readUInt16LE(8) === AES_METHOD,
    method: entry.method,
    compressedSize: entry.compressedSize,
    uncompressedSize: entry.uncompressedSize,
    dataOffset,
  };
}

/** The archive's entries as listed by its central directory, or why it cannot be trusted. */
export async function readZipDirectory(file: FileHandle, size: number, limits: ZipLimits): Promise<ZipDirectory> {
  const location = await locateDirectory(file, size);
  if (typeof location === 'string') return fail(location);
  if (location.entryCount > limits.maxEntries) return fail(`more than ${limits.maxEntries} entries`);
  if (location.directorySize > limits.maxDirectoryBytes) return fail(`central directory over ${limits.maxDirectoryBytes} bytes`);

  const directory = await readAt(file, location.directoryOffset, location.directorySize);
  if (directory.length !== location.directorySize) return fail('central directory truncated');
  const central = parseDirectory(directory, location.entryCount);
  if (typeof central === 'string') return fail(central);

  const entries: ZipEntry[] = [];
  for (const entry of central) {
    const checked = await checkLocalHeader(file, entry, location.directoryOffset);
    if (typeof checked === 'string') return fail(checked);
    entries.push(checked);
  }
  return { ok: true, entries };
}

/**
 * One entry's contents, for small metadata parts only: null when it is stored with a
 * method other than store/deflate, is encrypted, or would exceed `maxBytes`.
 */
export async function readEntry(file: FileHandle, entry: ZipEntry, maxBytes: number): Promise<Buffer | null> {
  if (entry.encrypted || entry.compressedSize > maxBytes) return null;
  const data = await readAt(file, entry.dataOffset, entry.compressedSize);
  if (data.length !== entry.compressedSize) return null;
  if (entry.method === 0) return data;
  if (entry.method !== 8) return null;
  try {
    // maxOutputLength turns a decompression bomb into an error instead of memory use.
    return await inflateRaw(data, { maxOutputLength: maxBytes });
  } catch {
    return null;
  }
}
