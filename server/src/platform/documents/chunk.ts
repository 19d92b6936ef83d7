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

interface Section {
  heading: string | undefined;
  /** The heading path, outermost first. */
  path: string[];
  body: Piece[];
}

function sections(text: string): Section[] {
  const result: Section[] = [];
  const trail: string[] = [];
  let current: Section = { heading: undefined, path: [], body: [] };
  const paragraph = /[^\n]+(?:\n(?!\n)[^\n]*)*/g;
  let fenced = false; // inside a Markdown code block, where "# …" is a comment, not a heading
  for (const match of text.matchAll(paragraph)) {
    const block = match[0].trim();
    if (!block) continue;
    const heading = fenced ? null : /^(#{1,6})\s+(.+)$/.exec(block.split('\n')[0]!);
    if ((block.match(/^\s*(?:```|~~~)/gmu)?.length ?? 0) % 2 === 1) fenced = !fenced;
    if (heading) {
      if (current.body.length > 0 || current.heading) result.push(current);
      trail.length = Math.min(trail.length, heading[1]!.length - 1);
      trail.push(heading[2]!.trim());
      current = { heading: trail.join(' > '), path: [...trail], body: [] };
      const rest = block.split('\n').slice(1).join('\n').trim();
      if (rest) current.body.push({ text: rest, start: match.index! + block.indexOf(rest) });
      continue;
    }
    current.body.push({ text: block, start: match.index! });
  }
  if (current.body.length > 0) result.push(current);
  return result;
}

/**
 * Runs of short sibling sections (a reference page's options, brief subsections) are packed
 * under their parent's heading, each keeping its title as its first line, up to the chunk
 * budget: a chunk of a few related entries rather than one of a dozen words, which neither
 * ranks well nor gives an answer its context. A lone short section keeps its own heading.
 */
function packShortSiblings(list: Section[], maxTokens: number): Section[] {
  const short = (section: Section) => section.path.length > 1 && words(section.body.map((p) => p.text).join(' ')) < maxTokens / 3;
  const titled = (section: Section): Piece[] => {
    const title = section.path.at(-1)!;
    const [first, ...rest] = section.body;
    return first ? [{ text: `${title}\n${first.text}`, start: first.start }, ...rest] : [{ text: title, start: 0 }];
  };
  const out: { section: Section; members: Section[]; count: number }[] = [];
  for (const section of list) {
    const parent = section.path.slice(0, -1);
    const previous = out.at(-1);
    const size = words(section.body.map((p) => p.text).join(' ')) + words(section.path.at(-1) ?? '');
    if (short(section) && previous && previous.members.length > 0 && previous.section.heading === parent.join(' > ') && previous.count + size <= maxTokens) {
      previous.members.push(section);
      previous.count += size;
      continue;
    }
    if (short(section)) out.push({ section: { heading: parent.join(' > '), path: parent, body: [] }, members: [section], count: size });
    else out.push({ section, members: [], count: 0 });
  }
  return out.map(({ section, members }) => {
    if (members.length === 0) return section;
    if (members.length === 1) return members[0]!;
    return { ...section, body: members.flatMap(titled) };
  });
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
  for (const section of packShortSiblings(sections(text), options.maxTokens)) {
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
