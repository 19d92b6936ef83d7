/**
 * The built-in provider: no network, no key. It answers the last user message by quoting
 * the passage sentences that share the most (IDF-weighted) terms with it, each followed by
 * its citation marker, or says plainly that the knowledge has nothing on it.
 */
import { throwIfAborted } from './http.js';
import type { ChatEvent, ChatRequest, LlmProvider, Passage } from './types.js';

export const NO_ANSWER = 'I could not find anything about that in the attached knowledge.';
export const ANSWER_PREFIX = 'According to the knowledge base:';
const MAX_SENTENCES = 3;
/** Sentences longer than this are cut (with an ellipsis) when quoted. */
const MAX_QUOTE_CHARS = 400;

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

function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
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
  const questionTerms = new Set(terms(question));
  if (questionTerms.size === 0 || passages.length === 0) return NO_ANSWER;

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const passage of passages) {
    for (const text of sentences(passage.text)) {
      const key = text.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      candidates.push({ passage, text, terms: new Set(terms(text)), order: candidates.length, score: 0 });
    }
  }

  // Inverse document frequency over the candidate sentences: rare terms weigh more.
  const df = new Map<string, number>();
  for (const candidate of candidates) {
    for (const term of candidate.terms) if (questionTerms.has(term)) df.set(term, (df.get(term) ?? 0) + 1);
  }
  const n = candidates.length;
  for (const candidate of candidates) {
    let score = 0;
    for (const term of questionTerms) {
      if (candidate.terms.has(term)) score += Math.log(1 + n / df.get(term)!);
    }
    candidate.score = score;
  }

  const best = candidates
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || b.passage.score - a.passage.score || a.order - b.order)
    .slice(0, MAX_SENTENCES);
  if (best.length === 0) return NO_ANSWER;

  const quotes = best.map((c) => `"${quote(c.text)}" [${c.passage.id}]`);
  return `${ANSWER_PREFIX} ${quotes.join(' ')}`;
}

function quote(text: string): string {
  const cleaned = text.replace(/"/g, "'");
  return cleaned.length > MAX_QUOTE_CHARS ? `${cleaned.slice(0, MAX_QUOTE_CHARS - 1).trimEnd()}…` : cleaned;
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
