/**
 * A tiny ZIP writer for scanner tests: real archives (stored or deflated entries, a
 * central directory, an end record) with knobs to set the flags that scanners look at.
 */
import zlib from 'node:zlib';

export interface ZipInput {
  name: string;
  data: Buffer | string;
  /** Deflate the data (default: store). */
  deflate?: boolean;
  /** Set the "encrypted" flag bit (the data is not actually encrypted). */
  encrypted?: boolean;
  /** Set the flag only in the local header, not in the central directory. */
  encryptedLocalOnly?: boolean;
}

/** A minimal docx: content types, package relationships and a document part. */
export function docxEntries(text = 'Hello from a clean document.', contentType = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml'): ZipInput[] {
  return [
    {
      name: '[Content_Types].xml',
      deflate: true,
      data:
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
        `<Override PartName="/word/document.xml" ContentType="${contentType}"/></Types>`,
    },
    {
      name: '_rels/.rels',
      deflate: true,
      data:
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    },
    {
      name: 'word/document.xml',
      deflate: true,
      data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>${text}</w:t></w:r></w:p></w:body></w:document>`,
    },
  ];
}

export function buildZip(inputs: ZipInput[], options: { comment?: string } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const input of inputs) {
    const raw = Buffer.isBuffer(input.data) ? input.data : Buffer.from(input.data);
    const data = input.deflate ? zlib.deflateRawSync(raw) : raw;
    const name = Buffer.from(input.name);
    const crc = zlib.crc32(raw);
    const method = input.deflate ? 8 : 0;
    const utf8 = 0x0800;
    const centralFlags = utf8 | (input.encrypted ? 1 : 0);
    const localFlags = centralFlags | (input.encryptedLocalOnly ? 1 : 0);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(localFlags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(centralFlags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const comment = Buffer.from(options.comment ?? '');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(inputs.length, 8);
  end.writeUInt16LE(inputs.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...locals, directory, end, comment]);
}
