/**
 * The built-in provider: no network, no key. It answers the last user message by quoting
 * the passage sentences that share the most (IDF-weighted) terms with it, each followed by
 * its citation marker, or says plainly that the knowledge has nothing on it: also when the
 * best sentence matches only a minor part of the question (one word of "capital of
 * France"). It never quotes a heading or a table's header row alone, nor a sentence cut
 * off by the start of its chunk; a table's rows are quoted with their column names.
 */
import { throwIfAborted } from './http.js';
import type { ChatEvent, ChatRequest, LlmProvider, Passage } from './types.js';

export const NO_ANSWER = 'I could not find anything about that in the attached knowledge.';
export const ANSWER_PREFIX = 'According to the knowledge base:';
const MAX_SENTENCES = 3;
/** Sentences longer than this are cut (with an ellipsis) when quoted. */
const MAX_QUOTE_CHARS = 400;
/**
 * The best sentence must carry more than this share of the question's weight; a question
 * word found in no passage weighs as much as the rarest one (it is what the question is about).
 */
const MIN_COVERAGE = 0.5;

// prettier-ignore
const STOP_WORDS = new Set([
  'a', 'about', 'above', 'after', 'again', 'against', 'all', 'also', 'am', 'an', 'and', 'any', 'are', 'as', 'at',
  'be', 'because', 'been', 'before', 'being', 'below', 'between', 'both', 'but', 'by', 'can', 'could', 'did', 'do',
  'does', 'doing', 'down', 'during', 'each', 'few', 'for', 'from', 'further', 'had', 'has', 'have', 'having', 'he',
  'her', 'here', 'hers', 'herself', 'him', 'himself', 'his', 'how', 'i', 'if', 'in', 'into', 'is', 'it', 'its',
  'itself', 'just', 'know', 'let', 'me', 'might', 'more', 'most', 'must', 'my', 'myself', 'no', 'nor', 'not', 'now',
  'of', 'off', 'on', 'once', 'only', 'or', 'other', 'our', 'ours', 'ourselves', 'out', 'over', 'own', 'please',
  'same', 'shall', 'she', 'should', 'so', 'some', 'such', 'tell', 'than', 'that', 'the', 'their', 'theirs', 'them',
  'themselves', 'then', 'there', 'these', 'they', 'this', 'those', 'through', 'to', 'too', 'under', 'until', 'up',
  'us', 'very', 'was', 'we', 'were', 'what', 'when', 'where', 'which', 'while', 'who', 'whom', 'why', 'will', 'with',
  'would', 'you', 'your', 'yours', 'yourself', 'yourselves',
]);

// Words of how people ask rather than of what they ask about ("How do I make…", "How are backups handled?").
// prettier-ignore
const QUESTION_WORDS = new Set([
  'make', 'get', 'want', 'need', 'way', 'possible', 'anyone', 'someone', 'something', 'anything', 'thing', 'things', 'find',
  'happen', 'happens', 'handle', 'handled', 'manage', 'managed', 'deal', 'dealt', 'work', 'works', 'done', 'go', 'goes',
]);

/** Lowercased word tokens without stop words, with a light plural folding ("keys" → "key"). */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
    const word = match[0].replace(/['’]s$/, '');
    if (STOP_WORDS.has(word)) continue;
    if (word.length < 2 && !/\p{N}/u.test(word)) continue;
    out.push(stem(word));
  }
  return out;
}

/** Light suffix folding, then the first five letters: "expiry"/"expires", "booked"/"books" meet. */
function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 3 && w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  return /\p{N}/u.test(w) ? w : w.slice(0, 5);
}

/** The question's terms: without the words of asking. */
function questionTerms(question: string): Set<string> {
  const all = terms(question);
  const asked = terms(question.replace(/[\p{L}]+/gu, (word) => (QUESTION_WORDS.has(word.toLowerCase()) ? ' ' : word)));
  return new Set(asked.length > 0 ? asked : all);
}

/** A line that titles what follows rather than says something: `# …`, or a few words without a full stop. */
function isHeadingLike(text: string): boolean {
  if (/^#{1,6}\s/.test(text)) return true;
  if (/[.!?…:;"”')\]]$/u.test(text) || /^([-*•]|\d+[.)])\s/u.test(text) || /\p{N}/u.test(text)) return false;
  return text.split(/\s+/).length <= 5;
}

const cells = (line: string) => line.split(/\s*[,;\t]\s*/);

/**
 * What can be quoted from a passage. A table (a first line of column names, rows of as many
 * cells below it) gives its rows as `name: value; …`; prose gives its sentences, without
 * headings and without a first sentence the chunk cut in half.
 */
export function quotables(text: string): string[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = cells(lines[0] ?? '');
  if (header.length >= 2 && lines.length >= 2 && lines.slice(1).every((line) => cells(line).length === header.length)) {
    return lines.slice(1).map((line) =>
      cells(line)
        .map((cell, i) => `${header[i]}: ${cell}`)
        .join('; '),
    );
  }
  const found = sentences(text).filter((s) => !isHeadingLike(s));
  // A chunk that starts mid-sentence: its first piece is a fragment.
  return /^\s*\p{Ll}/u.test(text) ? found.slice(1) : found;
}

/** Splits text into sentences at . ! ? followed by whitespace, and at blank lines or line breaks. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?…]["”’)\]]*)\s+|\r?\n/u)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s));
}

interface Candidate {
  passage: Passage;
  text: string;
  terms: Set<string>;
  order: number;
  score: number;
}

/** The answer text for a question and the passages retrieved for it. */
export function extractiveAnswer(question: string, passages: Passage[]): string {
  const asked = questionTerms(question);
  if (asked.size === 0 || passages.length === 0) return NO_ANSWER;

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const passage of passages) {
    for (const text of quotables(passage.text)) {
      const key = text.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      candidates.push({ passage, text, terms: new Set(terms(text)), order: candidates.length, score: 0 });
    }
  }

  // Inverse document frequency over the candidate sentences: rare terms weigh more.
  const df = new Map<string, number>();
  for (const candidate of candidates) {
    for (const term of candidate.terms) if (asked.has(term)) df.set(term, (df.get(term) ?? 0) + 1);
  }
  const n = candidates.length;
  const weight = (term: string) => Math.log(1 + n / (df.get(term) ?? 1));
  const total = [...asked].reduce((sum, term) => sum + weight(term), 0);
  for (const candidate of candidates) {
    let score = 0;
    for (const term of asked) {
      if (candidate.terms.has(term)) score += weight(term);
    }
    candidate.score = score;
  }

  const best = candidates
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || b.passage.score - a.passage.score || a.order - b.order)
    .slice(0, MAX_SENTENCES);
  // A weak best match (a minor word of the question) is no answer, whatever it quotes.
  if (best.length === 0 || best[0]!.score <= MIN_COVERAGE * total) return NO_ANSWER;

  const quotes = best.map((c) => `"${quote(c.text)}" [${c.passage.id}]`);
  return `${ANSWER_PREFIX} ${quotes.join(' ')}`;
}

/** The sentence, or its first MAX_QUOTE_CHARS cut at a word boundary. */
function quote(text: string): string {
  const cleaned = text.replace(/"/g, "'");
  if (cleaned.length <= MAX_QUOTE_CHARS) return cleaned;
  const cut = cleaned.slice(0, MAX_QUOTE_CHARS - 1);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), MAX_QUOTE_CHARS / 2)).trimEnd()}…`;
}

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '').length;

export class ExtractiveProvider implements LlmProvider {
  readonly kind = 'extractive' as const;

  async *stream(request: ChatRequest): AsyncGenerator<ChatEvent, void, undefined> {
    throwIfAborted(request.signal);
    const question = request.messages.findLast((m) => m.role === 'user')?.content ?? '';
    const answer = extractiveAnswer(question, request.passages ?? []);
    for (const piece of answer.match(/\S+\s*/g) ?? []) {
      throwIfAborted(request.signal);
      yield { type: 'delta', text: piece };
    }
    throwIfAborted(request.signal);
    const inputTokens = request.messages.reduce((sum, m) => sum + words(m.content), 0);
    yield { type: 'usage', inputTokens, outputTokens: words(answer) };
    yield { type: 'done', finishReason: 'stop' };
  }

  async test(): Promise<{ ok: true; models?: string[] }> {
    return { ok: true, models: ['extractive'] };
  }
}
