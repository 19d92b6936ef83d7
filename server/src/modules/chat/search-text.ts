/**
 * The words of a text as conversation search sees them: runs of letters and digits, folded
 * (NFKC, lower case, accents kept), English words stemmed (Porter: "running" and "runs" are
 * "run"), the commonest English words left out. Used both to index (search-index.ts) and to
 * find a query's words again in the text of a result (the snippet).
 */
import { stemmer } from 'stemmer';

/** Words longer than this are not indexed (hashes, base64, long URLs): they would only add noise. */
export const WORD_MAX_CHARS = 40;

// The commonest English words: in nearly every message, so they would rank nothing and
// make the postings read by a search long. Kept short on purpose: "not", "who" and the like stay searchable.
const STOPWORDS = new Set(
  ('a an and are as at be been but by for from had has have he her his i if in into is it its me my of on or our she so ' + 'than that the their them then there these they this to was we were what when which will with you your').split(' '),
);

const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}]+)?/gu;

export interface Word {
  /** The search form: folded and stemmed. */
  stem: string;
  /** Where the word is in the text (UTF-16 offsets, end exclusive). */
  start: number;
  end: number;
}

/** The search form of one word, or null when it is not searched for (a stopword, too long). */
export function stemOf(raw: string): string | null {
  const folded = raw
    .normalize('NFKC')
    .toLowerCase()
    .replace(/['’]s$/u, '')
    .replaceAll('’', "'");
  if (folded.length === 0 || folded.length > WORD_MAX_CHARS || STOPWORDS.has(folded)) return null;
  // The Porter stemmer is for English; other scripts keep their folded form.
  return /^[a-z']+$/.test(folded) ? stemmer(folded.replaceAll("'", '')) || folded : folded;
}

/** Each searchable word of `text` with its place, in order. */
export function wordsOf(text: string): Word[] {
  const words: Word[] = [];
  for (const match of text.matchAll(WORD)) {
    const stem = stemOf(match[0]);
    if (stem) words.push({ stem, start: match.index, end: match.index + match[0].length });
  }
  return words;
}

/** How often each searchable word occurs in `text`. */
export function termCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { stem } of wordsOf(text)) counts.set(stem, (counts.get(stem) ?? 0) + 1);
  return counts;
}

/**
 * Markdown as the reader sees it, roughly: answers are Markdown, and a snippet shows
 * "the pelican budget", not "**pelican budget**". Links keep their text, images their
 * alt text; emphasis, code, heading, quote and list markers and table pipes go.
 */
export function plainText(markdown: string): string {
  return markdown
    .replace(/^\s{0,3}(?:```|~~~).*$/gmu, ' ')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/gu, '$1')
    .replace(/^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)/gmu, '')
    .replace(/^\s*\|?(?:\s*:?-{3,}:?\s*\|?)+\s*$/gmu, ' ')
    .replace(/\|/gu, ' ')
    .replace(/(\*\*|__|\*|_|~~|`)(?=\S)([^]*?\S)\1/gu, '$2');
}

export interface Snippet {
  text: string;
  /** The query's words in `text` (UTF-16 offsets, end exclusive), for the reader to emphasise. */
  highlights: { start: number; end: number }[];
}

/**
 * About `width` characters of `text` around the first place where the most of `stems` occur
 * close together, cut at word boundaries, with an ellipsis where it was cut.
 */
export function snippetOf(text: string, stems: ReadonlySet<string>, width = 200): Snippet {
  const flat = plainText(text).replace(/\s+/gu, ' ').trim();
  const words = wordsOf(flat);
  const hits = words.filter((word) => stems.has(word.stem));
  // The window that starts at a hit and holds the most distinct query words.
  let from = 0;
  let best = -1;
  for (const hit of hits) {
    const inside = new Set(hits.filter((h) => h.start >= hit.start && h.end <= hit.start + width).map((h) => h.stem)).size;
    if (inside > best) {
      best = inside;
      from = hit.start;
    }
  }
  // A little context before the first hit, starting on a word.
  let start = Math.max(0, from - Math.floor(width / 4));
  if (start > 0) start = words.find((word) => word.start >= start)?.start ?? from;
  let end = Math.min(flat.length, start + width);
  if (end < flat.length) {
    const last = words.filter((word) => word.end <= end).at(-1);
    if (last && last.end > start) end = last.end;
  }
  const prefix = start > 0 ? '… ' : '';
  const suffix = end < flat.length ? ' …' : '';
  const highlights = hits.filter((h) => h.start >= start && h.end <= end).map((h) => ({ start: h.start - start + prefix.length, end: h.end - start + prefix.length }));
  return { text: `${prefix}${flat.slice(start, end)}${suffix}`, highlights };
}
