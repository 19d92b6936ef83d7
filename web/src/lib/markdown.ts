/**
 * The one Markdown pipeline for everything people or models write (messages, answers,
 * passages): marked turns Markdown into HTML with every piece of raw HTML escaped, then
 * DOMPurify keeps only an allowlist of plain text-formatting elements. Links must be
 * http, https or mailto and open in a new tab without an opener or referrer; images
 * only load from allowed origins (this one by default), anything else becomes a link.
 * No style attributes (the page's CSP forbids them) and no SVG or MathML. Fenced code may
 * be highlighted by a highlighter passed in ($lib/highlight); its spans go through the same
 * allowlist and keep only `hljs-` classes. After sanitising, code blocks get a header with
 * the language and a Copy button, tables a scrolling wrapper (markdown-blocks.ts).
 *
 * Heavy (marked + DOMPurify): import it dynamically where it is needed.
 */
import DOMPurify, { type DOMPurify as Purifier } from 'dompurify';
import { Marked, type Tokens } from 'marked';
import { decorateBlocks } from './markdown-blocks';

/** Code + language → highlighted HTML, or null to show the code plain ($lib/highlight `highlightCode`). */
export type Highlighter = (code: string, language: string) => string | null;

export interface RenderOptions {
  /** Origins images may load from; default: this page's origin. Others become links. */
  imageOrigins?: readonly string[];
  /** Citation ids ("1", "2", …) whose [n] markers become buttons with data-citation="n". */
  citationIds?: ReadonlySet<string>;
  /** Highlights fenced code with a known language; without it all code is plain. */
  highlight?: Highlighter;
}

const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

const ALLOWED_TAGS = ['a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul'];
const ALLOWED_ATTR = ['href', 'title', 'src', 'alt', 'start', 'align', 'class'];
/** The classes each element may keep (what the renderer and the highlighter write); all others are dropped. */
const ALLOWED_CLASSES: Readonly<Record<string, RegExp>> = {
  CODE: /^language-[\w+#.-]{1,32}$/,
  SPAN: /^hljs-[\w-]{1,40}$/,
  LI: /^task-(done|open)$/,
};
/** A fence's language as we accept it: one short word of letters, digits and + # . _ - (e.g. c++, c#, objective-c). */
const LANGUAGE = /^[a-z0-9][\w+#.-]{0,31}$/;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function baseOrigin(): string {
  return typeof location === 'undefined' ? 'http://localhost' : location.origin;
}

/** The URL a link may point to, or null. Parsed as the browser would (entities already decoded, whitespace stripped). */
export function safeLinkUrl(href: string): URL | null {
  try {
    const url = new URL(href, baseOrigin());
    return LINK_PROTOCOLS.has(url.protocol) ? url : null;
  } catch {
    return null;
  }
}

function isAllowedImage(src: string, origins: readonly string[]): boolean {
  const url = safeLinkUrl(src);
  return url !== null && url.protocol !== 'mailto:' && origins.includes(url.origin);
}

/** The language of a fence's info string ("Python {.x}" → "python"), or null when absent or not a plain word. */
export function codeLanguage(info: string | undefined): string | null {
  const word = /^\S*/.exec(info ?? '')![0].toLowerCase();
  return LANGUAGE.test(word) ? word : null;
}

/** Markdown → HTML with raw HTML shown as text and off-origin images as links. */
function markdownToHtml(source: string, imageOrigins: readonly string[], highlight: Highlighter | undefined): string {
  const marked = new Marked({
    gfm: true,
    async: false,
    renderer: {
      html: ({ text }: Tokens.HTML | Tokens.Tag) => escapeHtml(text),
      code: ({ text, lang }: Tokens.Code) => {
        const code = text.replace(/\n$/, '') + '\n';
        const language = codeLanguage(lang);
        const highlighted = language && highlight ? highlight(code, language) : null;
        return `<pre><code${language ? ` class="language-${language}"` : ''}>${highlighted ?? escapeHtml(code)}</code></pre>\n`;
      },
      // Task list items: a class here, the box is drawn after sanitising (no <input> in answers).
      listitem(item: Tokens.ListItem) {
        if (!item.task) return false;
        return `<li class="task-${item.checked ? 'done' : 'open'}">${this.parser.parse(item.tokens)}</li>\n`;
      },
      checkbox: () => '',
      image: ({ href, title, text }: Tokens.Image) => {
        const alt = escapeHtml(text);
        if (isAllowedImage(href, imageOrigins)) return `<img src="${escapeHtml(href)}" alt="${alt}"${title ? ` title="${escapeHtml(title)}"` : ''}>`;
        if (safeLinkUrl(href)) return `<a href="${escapeHtml(href)}">${alt || 'image'}</a>`;
        return alt;
      },
    },
  });
  return marked.parse(source, { async: false });
}

let purifier: Purifier | null = null;
let currentImageOrigins: readonly string[] = [];

/** One DOMPurify instance of our own, so these hooks apply to nothing else. */
function purify(): Purifier {
  if (purifier) return purifier;
  const instance = DOMPurify(window);
  instance.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'A') {
      const href = node.getAttribute('href');
      if (href !== null && !safeLinkUrl(href)) node.removeAttribute('href');
      node.setAttribute('rel', 'noopener noreferrer');
      node.setAttribute('target', '_blank');
    } else if (node.nodeName === 'IMG') {
      const src = node.getAttribute('src');
      // The renderer already turned off-origin images into links; this catches anything else.
      if (src !== null && !isAllowedImage(src, currentImageOrigins)) node.removeAttribute('src');
    }
    const classes = node.getAttribute('class');
    if (classes !== null) {
      const allowed = ALLOWED_CLASSES[node.nodeName];
      const kept = allowed ? classes.split(/\s+/).filter((name) => allowed.test(name)) : [];
      if (kept.length > 0) node.setAttribute('class', kept.join(' '));
      else node.removeAttribute('class');
    }
    node.removeAttribute('style');
  });
  purifier = instance;
  return instance;
}

/** HTML (from markdownToHtml or anywhere) → a fragment holding only the allowlist. */
function sanitize(html: string, imageOrigins: readonly string[]): DocumentFragment {
  currentImageOrigins = imageOrigins;
  return purify().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    FORBID_TAGS: ['style', 'svg', 'math', 'form', 'input', 'iframe', 'object', 'embed'],
    FORBID_ATTR: ['style'],
    RETURN_DOM_FRAGMENT: true,
  });
}

const CITATION = /\[(\d{1,3})\]/g;

/** Replaces [n] in text (not in code or links) with a button for each known citation id. */
function markCitations(fragment: DocumentFragment, ids: ReadonlySet<string>): void {
  const walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement?.closest('code, pre, a')) texts.push(node as Text);
  }
  for (const text of texts) {
    const value = text.data;
    if (!CITATION.test(value)) continue;
    CITATION.lastIndex = 0;
    const parts = document.createDocumentFragment();
    let last = 0;
    for (const match of value.matchAll(CITATION)) {
      const id = match[1]!;
      if (!ids.has(id)) continue;
      parts.append(value.slice(last, match.index));
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'citation';
      button.dataset.citation = id;
      button.setAttribute('aria-label', `Source ${id}`);
      button.textContent = id;
      parts.append(button);
      last = match.index + match[0].length;
    }
    if (last === 0) continue;
    parts.append(value.slice(last));
    text.replaceWith(parts);
  }
}

/**
 * Markdown from a person or a model → HTML safe to insert with innerHTML / {@html}.
 * The real-browser XSS check calls this too (import { renderMarkdown } from '$lib/markdown').
 */
export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  const imageOrigins = options.imageOrigins ?? [baseOrigin()];
  const fragment = sanitize(markdownToHtml(source, imageOrigins, options.highlight), imageOrigins);
  if (options.citationIds && options.citationIds.size > 0) markCitations(fragment, options.citationIds);
  decorateBlocks(fragment);
  const holder = document.createElement('div');
  holder.append(fragment);
  return holder.innerHTML;
}
