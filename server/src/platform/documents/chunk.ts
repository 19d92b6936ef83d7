/**
 * Structure-aware chunking: the text is split into sections at markdown headings (the
 * extractors keep headings as `#` lines), sections into paragraphs, long paragraphs into
 * sentences; pieces are packed up to `maxTokens` (a token is counted as a word: close
 * enough for English prose and cheap), and consecutive chunks of a section share
 * `overlapTokens` words so an answer split across a boundary is still found. Deterministic.
 */

export interface Chunk {
  text: string;
  position: number;
  heading?: string;
  startChar: number;
  endChar: number;
}

interface Piece {
  text: string;
  start: number;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

function sections(text: string): { heading: string | undefined; body: Piece[] }[] {
  const result: { heading: string | undefined; body: Piece[] }[] = [];
  const trail: string[] = [];
  let current: { heading: string | undefined; body: Piece[] } = { heading: undefined, body: [] };
  const paragraph = /[^\n]+(?:\n(?!\n)[^\n]*)*/g;
  for (const match of text.matchAll(paragraph)) {
    const block = match[0].trim();
    if (!block) continue;
    const heading = /^(#{1,6})\s+(.+)$/.exec(block.split('\n')[0]!);
    if (heading) {
      if (current.body.length > 0 || current.heading) result.push(current);
      trail.length = Math.min(trail.length, heading[1]!.length - 1);
      trail.push(heading[2]!.trim());
      current = { heading: trail.join(' > '), body: [] };
      const rest = block.split('\n').slice(1).join('\n').trim();
      if (rest) current.body.push({ text: rest, start: match.index! + block.indexOf(rest) });
      continue;
    }
    current.body.push({ text: block, start: match.index! });
  }
  if (current.body.length > 0) result.push(current);
  return result;
}

/** Paragraphs longer than the budget are cut at sentence ends, then at word counts. */
function fit(piece: Piece, maxTokens: number): Piece[] {
  if (words(piece.text) <= maxTokens) return [piece];
  const out: Piece[] = [];
  const sentences = piece.text.match(/[^.!?]+(?:[.!?]+|$)\s*/g) ?? [piece.text];
  let offset = piece.start;
  for (const sentence of sentences) {
    const tokens = sentence.trim().split(/\s+/).filter(Boolean);
    for (let i = 0; i < tokens.length; i += maxTokens) out.push({ text: tokens.slice(i, i + maxTokens).join(' '), start: offset });
    offset += sentence.length;
  }
  return out;
}

export function chunkText(text: string, options: { maxTokens: number; overlapTokens: number }): Chunk[] {
  const chunks: Chunk[] = [];
  for (const section of sections(text)) {
    const pieces = section.body.flatMap((p) => fit(p, options.maxTokens));
    let buffer: Piece[] = [];
    let count = 0;
    let fresh = 0; // pieces not yet in any chunk
    const flush = () => {
      const body = buffer.map((p) => p.text).join('\n\n');
      const last = buffer.at(-1)!;
      chunks.push({ text: body, position: chunks.length, ...(section.heading ? { heading: section.heading } : {}), startChar: buffer[0]!.start, endChar: last.start + last.text.length });
      // Carry the tail of this chunk into the next one.
      const tail = options.overlapTokens > 0 ? body.split(/\s+/).slice(-options.overlapTokens).join(' ') : '';
      buffer = tail ? [{ text: tail, start: last.start }] : [];
      count = words(tail);
      fresh = 0;
    };
    for (const piece of pieces) {
      const n = words(piece.text);
      if (fresh > 0 && count + n > options.maxTokens) flush();
      buffer.push(piece);
      count += n;
      fresh++;
    }
    if (fresh > 0) flush();
  }
  return chunks;
}
