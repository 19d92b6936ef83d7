/**
 * Text of a .docx: a ZIP opened with limits checked on the directory before anything
 * is inflated (entries, declared size, ratio — zip bombs) and entry names checked for
 * traversal; word/document.xml read without DTDs or entities (any declaration is
 * refused, so no external entity can be resolved), paragraphs and headings kept.
 */
import { unzipSync } from 'fflate';
import { DocumentError } from './errors.js';

export interface ZipLimits {
  zipMaxEntries: number;
  zipMaxTotalBytes: number;
  zipMaxRatio: number;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_m, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1)));
    return XML_ENTITIES[name.toLowerCase()]!;
  });
}

export function docxText(data: Uint8Array, limits: ZipLimits): { text: string; title?: string } {
  let entries = 0;
  let declared = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(data, {
      filter: (file) => {
        entries++;
        declared += file.originalSize;
        if (/(^|[\\/])\.\.([\\/]|$)|^[\\/]|^[a-z]:/i.test(file.name) || file.name.includes('\\')) throw new DocumentError('path_traversal', 'The document’s archive has entries with unsafe paths.');
        const ratio = file.size > 0 ? file.originalSize / file.size : file.originalSize > 0 ? Infinity : 1;
        if (entries > limits.zipMaxEntries || declared > limits.zipMaxTotalBytes || (file.originalSize > 1_000_000 && ratio > limits.zipMaxRatio)) {
          throw new DocumentError('archive_limits', 'The document’s archive exceeds the limits (entries, size or compression ratio).');
        }
        return file.name === 'word/document.xml' || file.name === 'docProps/core.xml';
      },
    });
  } catch (error) {
    if (error instanceof DocumentError) throw error;
    throw new DocumentError('parse_failed', 'The document could not be read.');
  }
  const xml = files['word/document.xml'];
  if (!xml) throw new DocumentError('parse_failed', 'The document has no body.');
  const inflated = Object.values(files).reduce((n, f) => n + f.length, 0);
  if (inflated > limits.zipMaxTotalBytes) throw new DocumentError('archive_limits', 'The document’s archive exceeds the limits (entries, size or compression ratio).');
  const body = new TextDecoder().decode(xml);
  const core = files['docProps/core.xml'] ? new TextDecoder().decode(files['docProps/core.xml']) : '';
  if (/<!DOCTYPE|<!ENTITY/i.test(body) || /<!DOCTYPE|<!ENTITY/i.test(core)) throw new DocumentError('xml_entities', 'The document declares XML entities or a DTD, which are refused.');
  const paragraphs: string[] = [];
  for (const match of body.matchAll(/<w:p[\s>][\s\S]*?<\/w:p>/g)) {
    const paragraph = match[0];
    const text = decode([...paragraph.matchAll(/<w:t(?:\s[^>]*)?>([\s\S]*?)<\/w:t>/g)].map((t) => t[1]).join('')).trim();
    if (!text) continue;
    const style = /<w:pStyle w:val="([^"]+)"/.exec(paragraph)?.[1] ?? '';
    const level = /^Heading([1-6])$/i.exec(style)?.[1] ?? (style === 'Title' ? '1' : null);
    paragraphs.push(level ? `${'#'.repeat(Number(level))} ${text}` : text);
  }
  const title = /<dc:title>([\s\S]*?)<\/dc:title>/.exec(core)?.[1];
  return { text: paragraphs.join('\n\n'), ...(title ? { title: decode(title).slice(0, 300) } : {}) };
}
