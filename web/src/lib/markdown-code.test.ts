// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { highlightCode, MAX_HIGHLIGHT_CHARS } from './highlight';
import { codeLanguage, renderMarkdown, type Highlighter } from './markdown';

function parse(html: string): HTMLElement {
  const holder = document.createElement('div');
  holder.innerHTML = html;
  return holder;
}

const render = (source: string, highlight: Highlighter | null = highlightCode) => parse(renderMarkdown(source, highlight ? { highlight } : {}));

/** Every span comes from the highlighter and keeps nothing but `hljs-` classes. */
function expectOnlyHighlighterSpans(root: HTMLElement): void {
  for (const span of root.querySelectorAll('span')) {
    if (span.closest('.code-head') || span.classList.contains('task-box') || span.classList.contains('visually-hidden')) continue;
    expect([...span.attributes].map((a) => a.name)).toEqual(span.hasAttribute('class') ? ['class'] : []);
    for (const name of span.classList) expect(name).toMatch(/^hljs-[\w-]+$/);
  }
}

const SAMPLES: [string, string, string][] = [
  ['python', 'def greet(name: str) -> str:\n    return f"Hello, {name}"  # greet\n', 'def'],
  ['ts', 'export const answer: number = 42;\n', 'export'],
  ['bash', 'for f in *.md; do echo "$f"; done\n', 'for'],
  ['json', '{ "ok": true, "n": 1 }\n', '"ok"'],
  ['sql', 'SELECT id FROM users WHERE email = $1;\n', 'SELECT'],
  ['go', 'func main() { fmt.Println("hi") }\n', 'func'],
  ['rust', 'fn main() { let x: u8 = 1; }\n', 'fn'],
  ['java', 'public class A { }\n', 'public'],
  ['cpp', 'int main() { return 0; }\n', 'int'],
  ['yaml', 'name: bastion\nport: 3000\n', 'name'],
  ['html', '<p class="x">hi</p>\n', 'p'],
  ['css', '.a { color: red; }\n', '.a'],
  ['diff', '- old\n+ new\n', '+ new'],
  ['markdown', '# Title\n', '# Title'],
  ['shell', 'echo "$HOME" # where\n', 'echo'],
];

describe('fenced code', () => {
  it.each(SAMPLES)('highlights %s with hljs- classes only, keeping the exact text', (language, code, token) => {
    const root = render(`\`\`\`${language}\n${code}\`\`\``);
    const element = root.querySelector('pre code')!;
    expect(element.className).toBe(`language-${language}`);
    expect(element.textContent).toBe(code);
    expect(element.querySelectorAll('span[class^="hljs-"]').length, 'highlighted').toBeGreaterThan(0);
    expect([...element.querySelectorAll('span')].some((s) => s.textContent!.includes(token))).toBe(true);
    expectOnlyHighlighterSpans(root);
  });

  it('shows code plain (escaped) without a highlighter, with an unknown language or none', () => {
    for (const source of ['```python\nx = "<b>"\n```', '```cobol\nx = "<b>"\n```', '```\nx = "<b>"\n```', '    x = "<b>"']) {
      const root = render(source, source.startsWith('```python') ? null : highlightCode);
      const code = root.querySelector('pre code')!;
      expect(code.querySelector('*'), source).toBeNull();
      expect(code.textContent).toBe('x = "<b>"\n');
    }
    expect(render('```cobol\nx\n```').querySelector('code')?.className).toBe('language-cobol');
    expect(render('```\nx\n```').querySelector('code')?.hasAttribute('class')).toBe(false);
  });

  it('accepts a language only as one plain word', () => {
    expect(codeLanguage('Python')).toBe('python');
    expect(codeLanguage('c++ {.numberLines}')).toBe('c++');
    expect(codeLanguage('c#')).toBe('c#');
    expect(codeLanguage(undefined)).toBeNull();
    expect(codeLanguage('')).toBeNull();
    expect(codeLanguage('"><img')).toBeNull();
    expect(codeLanguage('javascript"')).toBeNull();
    expect(codeLanguage("js'")).toBeNull();
    expect(codeLanguage('a'.repeat(33))).toBeNull();
    expect(codeLanguage('-x')).toBeNull();
  });

  it('keeps hostile info strings out of attributes and shows the code as text', () => {
    const img = render('```"><img src=x onerror=alert(1)>\n<b>code</b>\n```');
    expect(img.querySelector('img, b')).toBeNull();
    expect(img.querySelector('pre code')?.textContent).toBe('<b>code</b>\n');
    expect(img.querySelector('pre code')?.hasAttribute('class')).toBe(false);
    expect(img.querySelector('.code-lang')?.textContent).toBe('code');

    const hover = render('```javascript" onmouseover="alert(1)\nlet a = 1;\n```');
    expect(hover.innerHTML).not.toMatch(/onmouseover=/i);
    expect(hover.querySelector('pre code')?.hasAttribute('class')).toBe(false);
    expect(hover.querySelector('pre code')?.textContent).toBe('let a = 1;\n');
  });

  it('keeps HTML inside code as text, highlighted or not', () => {
    const root = render('```html\n<script>alert(1)</script><img src=x onerror=alert(1)>\n```');
    expect(root.querySelector('script, img')).toBeNull();
    expect(root.querySelector('pre code')?.textContent).toBe('<script>alert(1)</script><img src=x onerror=alert(1)>\n');
    expect(root.querySelector('pre code span.hljs-tag')).not.toBeNull();
    expectOnlyHighlighterSpans(root);
  });

  it('sanitises what a highlighter returns like any other HTML', () => {
    const hostile: Highlighter = () =>
      '<span class="hljs-keyword evil language-x" style="color:red" onclick="alert(1)" data-x="1">k</span><img src=x onerror=alert(1)><a href="javascript:alert(1)">l</a><svg onload=alert(1)></svg><span class="x">y</span>';
    const root = render('```js\nk\n```', hostile);
    const spans = [...root.querySelectorAll('pre span')];
    expect(spans.map((s) => s.outerHTML)).toEqual(['<span class="hljs-keyword">k</span>', '<span>y</span>']);
    expect(root.querySelector('svg, [onerror], [onload], [onclick], [style]')).toBeNull();
    expect(root.querySelector('a[href]')).toBeNull();
  });

  it('drops class names the renderer did not write', () => {
    // Only marked's and the highlighter's classes survive, on their own elements.
    const root = render('```js\nconst a = 1;\n```\n\n- [x] done\n- [ ] open');
    for (const element of root.querySelectorAll('[class]')) {
      const allowed = ['code-block', 'code-head', 'code-lang', 'code-copy', 'task-box', 'done', 'visually-hidden', 'task-done', 'task-open', 'language-js'];
      for (const name of element.classList) if (!name.startsWith('hljs-')) expect(allowed).toContain(name);
    }
  });

  it('does not look up names on the prototype or highlight very long code', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect(highlightCode('x', name)).toBeNull();
    expect(highlightCode('let a = 1;\n'.repeat(MAX_HIGHLIGHT_CHARS / 10), 'js')).toBeNull();
    expect(highlightCode('let a = 1;', 'js')).toContain('hljs-keyword');
  });

  it('gives each code block a header with its language and a Copy button marker', () => {
    const root = render('Intro\n\n```python\nprint(1)\n```\n\n- item\n\n  ```\n  nested\n  ```');
    const blocks = [...root.querySelectorAll('.code-block')];
    expect(blocks).toHaveLength(2);
    const [first, second] = blocks as [HTMLElement, HTMLElement];
    expect(first.getAttribute('role')).toBe('group');
    expect(first.getAttribute('aria-label')).toBe('python code');
    expect(first.querySelector('.code-head .code-lang')?.textContent).toBe('python');
    const button = first.querySelector('.code-head button.code-copy')!;
    expect(button.getAttribute('type')).toBe('button');
    expect(button.hasAttribute('data-copy-code')).toBe(true);
    expect(button.textContent).toBe('Copy');
    expect([...button.attributes].map((a) => a.name).sort()).toEqual(['class', 'data-copy-code', 'type']);
    expect(first.querySelector(':scope > pre > code')?.textContent).toBe('print(1)\n');
    expect(first.querySelector('pre')?.getAttribute('tabindex'), 'a scrolling block is reachable by keyboard').toBe('0');
    expect(second.closest('li')).not.toBeNull();
    expect(second.querySelector('.code-lang')?.textContent).toBe('code');
    expect(second.getAttribute('aria-label')).toBe('Code');
  });
});

describe('tables and lists', () => {
  it('wraps each table in a scrolling container and keeps alignment', () => {
    const root = render('| Name | Qty |\n|:-----|----:|\n| Tea | 2 |');
    const wrapper = root.querySelector('div.table-scroll')!;
    expect(wrapper.firstElementChild?.tagName).toBe('TABLE');
    expect(wrapper.getAttribute('tabindex')).toBe('0');
    expect([...root.querySelectorAll('th')].map((th) => th.textContent)).toEqual(['Name', 'Qty']);
    expect(root.querySelector('td:last-child')?.getAttribute('align')).toBe('right');
  });

  it('renders nested ordered and unordered lists', () => {
    const root = render('1. First\n   - a\n   - b\n     1. deep\n2. Second\n');
    expect(root.querySelectorAll(':scope > ol > li')).toHaveLength(2);
    expect([...root.querySelectorAll('ol > li > ul > li')].map((li) => li.firstChild?.textContent?.trim())).toEqual(['a', 'b']);
    expect(root.querySelector('ul > li > ol > li')?.textContent).toBe('deep');
  });

  it('draws task list boxes without form controls, with their state as text', () => {
    const root = render('- [x] Done thing\n- [ ] Open thing\n  - [x] nested done\n- plain');
    expect(root.querySelector('input')).toBeNull();
    const items = [...root.querySelectorAll('li')];
    expect(items.map((li) => li.className)).toEqual(['task-done', 'task-open', 'task-done', '']);
    expect(items[0]?.querySelector('.task-box.done')).not.toBeNull();
    expect(items[1]?.querySelector(':scope > .task-box:not(.done)')).not.toBeNull();
    expect(items[0]?.textContent).toBe('Done: Done thing');
    expect(items[1]?.textContent?.startsWith('To do: Open thing')).toBe(true);
    // A loose list: the box goes into the paragraph.
    const loose = render('- [x] one\n\n- [ ] two\n');
    expect(loose.querySelector('li > p > .task-box')).not.toBeNull();
  });
});
