/** Multipart bodies for upload tests, built by hand so tests control every byte (filenames included). */
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';

export function multipart(filename: string, content: Buffer | string, type = 'application/octet-stream', field = 'file'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----bastion${randomBytes(8).toString('hex')}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`;
  return {
    payload: Buffer.concat([Buffer.from(head, 'utf8'), Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'), Buffer.from(`\r\n--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** The EICAR anti-virus test string, assembled at run time so this file is not itself flagged. */
export const EICAR = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'].join('');

/** A valid PDF with one page per text (Helvetica); byte offsets computed for the xref table. */
export function pdfDocument(pages: string[]): string {
  const first = 3; // objects 1 and 2 are the catalog and the page tree; the font is last
  const font = first + pages.length * 2;
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Kids [${pages.map((_, i) => `${first + i * 2} 0 R`).join(' ')}] /Count ${pages.length} >>`];
  pages.forEach((text, i) => {
    const stream = `BT /F1 12 Tf 72 720 Td (${text.replace(/[()\\]/g, '\\$&')}) Tj ET`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${first + i * 2 + 1} 0 R /Resources << /Font << /F1 ${font} 0 R >> >> >>`);
    objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  });
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  return pdfFile(objects);
}

/** A PDF file of numbered objects (1 is the catalog) with its cross-reference table; `trailer` adds to the trailer dictionary. */
function pdfFile(objects: string[], trailer = ''): string {
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  return `${out}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R${trailer} >>\nstartxref\n${xref}\n%%EOF\n`;
}

/** A small PDF whose one content stream inflates (FlateDecode) to `inflatedBytes` of spaces. */
export function pdfBomb(inflatedBytes: number): Buffer {
  const deflated = deflateSync(Buffer.alloc(inflatedBytes, 0x20), { level: 9 });
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>'];
  let head = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(head.length);
    head += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  offsets.push(head.length);
  head += `4 0 obj\n<< /Length ${deflated.length} /Filter /FlateDecode >>\nstream\n`;
  const tail = '\nendstream\nendobj\n';
  const xref = head.length + deflated.length + tail.length;
  const trailer = `xref\n0 5\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.concat([Buffer.from(head), deflated, Buffer.from(tail + trailer)]);
}

/**
 * A one-page PDF as a browser prints it: the "fi" ligature glyph comes from another font
 * (Helvetica's StandardEncoding code \256, which pdf.js reads as U+FB01) between runs of
 * the body font, so a word is split into text items at the ligature — "file:///…",
 * "office" and "configuration" — with `title` as its metadata title (Info /Title).
 */
export function ligaturePdf(title = 'policy.html'): Buffer {
  const fi = '/F2 12 Tf (\\256) Tj /F1 12 Tf';
  return onePagePdf([`BT /F1 12 Tf 72 720 Td (Open ) Tj ${fi} (le:///srv/policy.html for the of) Tj ${fi} (ce rules.) Tj ET`, `BT /F1 12 Tf 72 700 Td (The con) Tj ${fi} (guration is ) Tj ${fi} (nal.) Tj ET`].join('\n'), title);
}

/** A one-page PDF with this content stream; fonts /F1 (Helvetica, WinAnsiEncoding) and /F2 (Helvetica, StandardEncoding). */
export function onePagePdf(stream: string, title = 'Untitled'): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Title (${title.replace(/[()\\]/g, '\\$&')}) /Producer (Skia/PDF m120) >>`,
  ];
  return Buffer.from(pdfFile(objects, ` /Info ${objects.length} 0 R`), 'latin1');
}
