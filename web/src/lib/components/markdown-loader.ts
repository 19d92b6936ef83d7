/**
 * The Markdown pipeline and the syntax highlighter on demand: one dynamic import each, shared
 * by every component that renders Markdown. The highlighter is loaded only for text with a
 * fenced code block that names a language (needsHighlighter), never with the page.
 */
type MarkdownModule = typeof import('$lib/markdown');
type HighlightModule = typeof import('$lib/highlight');

let loading: Promise<MarkdownModule> | null = null;
let loadingHighlighter: Promise<HighlightModule> | null = null;

export function loadMarkdown(): Promise<MarkdownModule> {
  loading ??= import('$lib/markdown').catch((error: unknown) => {
    loading = null; // a failed chunk load (e.g. during a deploy) can be tried again
    throw error;
  });
  return loading;
}

export function loadHighlighter(): Promise<HighlightModule> {
  loadingHighlighter ??= import('$lib/highlight').catch((error: unknown) => {
    loadingHighlighter = null;
    throw error;
  });
  return loadingHighlighter;
}

/** An opening fence with an info string, also inside list items and quotes ("- ```js", "> ~~~py"). */
const FENCE_WITH_LANGUAGE = /^[ \t>*+\-\d.)]*(?:`{3,}|~{3,})[ \t]*([^\s`~]+)/gm;
/** Info strings that mean "no highlighting". */
const PLAIN = new Set(['text', 'txt', 'plain', 'plaintext', 'output']);

/**
 * True when the text has a fenced code block with a language to highlight. Cheap and loose
 * (a closing fence followed by a word counts too): a false positive only costs a load.
 */
export function needsHighlighter(text: string): boolean {
  for (const match of text.matchAll(FENCE_WITH_LANGUAGE)) {
    if (!PLAIN.has(match[1]!.toLowerCase())) return true;
  }
  return false;
}
