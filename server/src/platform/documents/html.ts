/**
 * HTML to text without executing anything, through a real HTML parser (htmlparser2: the
 * tokenizer browsers' rules describe, entities decoded, implied end tags closed).
 * Dropped with their content: scripts, styles, embedded objects, templates, SVG/MathML,
 * and everything a reader would not see — elements with `hidden`, `aria-hidden="true"`,
 * an inline style that hides them, or hidden inputs — because text only a model reads is
 * a prompt-injection vector. Navigation is dropped too — `<nav>`, `role="navigation"`, and
 * lists of LINK_LIST_MIN or more items that are each only a link (a site's menu, a table of
 * contents) — so a page's text is its content, not the same menu at the top of every page.
 * Headings become markdown `#` lines (chunking sees the structure) without their permalink
 * marks ("#", "¶", "[src]"), and block elements end lines.
 */
import { Parser } from 'htmlparser2';

const DROPPED = new Set(['script', 'style', 'noscript', 'template', 'iframe', 'object', 'embed', 'svg', 'math', 'head', 'title', 'select', 'button', 'canvas', 'audio', 'video']);
const BLOCK = new Set(['p', 'div', 'li', 'tr', 'section', 'article', 'blockquote', 'pre', 'ul', 'ol', 'table', 'header', 'footer', 'main', 'nav', 'aside', 'dl', 'dt', 'dd', 'figure', 'form', 'hr']);
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const HIDING_STYLE = /(^|;)\s*(display\s*:\s*none|visibility\s*:\s*(hidden|collapse)|opacity\s*:\s*0(\.0*)?\s*(;|$)|font-size\s*:\s*0(px|em|rem|%)?\s*(;|$))/i;

const LINK_LIST_MIN = 8;
const PERMALINK = /(?:\s*(?:[#¶§]|\[src\]|\[source\]))+(?=\s|$)/gu;

export function isHidden(name: string, attributes: Record<string, string>): boolean {
  if ('hidden' in attributes) return true;
  if (attributes['aria-hidden']?.toLowerCase() === 'true') return true;
  if (name === 'input' && attributes.type?.toLowerCase() === 'hidden') return true;
  return HIDING_STYLE.test(attributes.style ?? '');
}

export function htmlToText(html: string): { text: string; title?: string } {
  let out = '';
  let title = '';
  let inTitle = 0;
  let skipping = 0; // depth inside a dropped or hidden element
  let heading: { level: number; start: number } | null = null;
  let inLink = 0;
  const lists: { start: number; items: number; content: boolean }[] = []; // open lists, innermost last
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'title') inTitle++;
        if (skipping > 0) {
          if (!VOID.has(name)) skipping++;
          return;
        }
        if (DROPPED.has(name) || name === 'nav' || attributes.role?.toLowerCase() === 'navigation' || isHidden(name, attributes)) {
          if (!VOID.has(name)) skipping = 1;
          return;
        }
        if (/^h[1-6]$/.test(name)) {
          out += '\n\n';
          heading = { level: Number(name[1]), start: out.length };
        } else if (name === 'ul' || name === 'ol') lists.push({ start: out.length, items: 0, content: false });
        else if (name === 'li' && lists.length > 0) lists.at(-1)!.items++;
        else if (name === 'a') inLink++;
        else if (name === 'br') out += '\n';
        else if (name === 'img' && attributes.alt) out += ` ${attributes.alt} `;
      },
      ontext(text) {
        if (inTitle > 0) title += text;
        if (skipping > 0) return;
        out += text;
        // Text outside a link inside a list: the list is content, not a menu.
        if (inLink === 0 && lists.length > 0 && text.trim() !== '') lists.at(-1)!.content = true;
      },
      onclosetag(name, implied) {
        if (name === 'title') inTitle = Math.max(0, inTitle - 1);
        if (skipping > 0) {
          if (!VOID.has(name) || !implied) skipping--;
          return;
        }
        if (name === 'a') inLink = Math.max(0, inLink - 1);
        if ((name === 'ul' || name === 'ol') && lists.length > 0) {
          const list = lists.pop()!;
          if (!list.content && list.items >= LINK_LIST_MIN) out = out.slice(0, list.start);
          else if (list.content && lists.length > 0) lists.at(-1)!.content = true;
        }
        if (heading && /^h[1-6]$/.test(name)) {
          const inner = out.slice(heading.start).replace(/\s+/g, ' ').replace(PERMALINK, '').trim();
          out = `${out.slice(0, heading.start)}${'#'.repeat(heading.level)} ${inner}\n\n`;
          heading = null;
        } else if (BLOCK.has(name)) out += '\n';
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: false },
  );
  parser.write(html);
  parser.end();
  const text = out
    .replace(/\u00a0/g, ' ')
    .replace(/[ \t\f\v\r]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const cleanTitle = title.replace(/\s+/g, ' ').trim().slice(0, 300);
  return cleanTitle ? { text, title: cleanTitle } : { text };
}
