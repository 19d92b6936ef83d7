// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { highlightCode } from './highlight';
import { renderMarkdown } from './markdown';

const ORIGIN = location.origin;

/** Markdown and raw-HTML attacks: each must come out inert. */
const PAYLOADS = [
  '<script>alert(1)</script>',
  'hello <script src="https://evil.example/x.js"></script> world',
  '<img src=x onerror=alert(1)>',
  '<img src="/ok.png" onerror="alert(1)">',
  '<div onclick="alert(1)" onmouseover="alert(1)">click</div>',
  '<a href="javascript:alert(1)">x</a>',
  '<a href="JaVaScRiPt:alert(1)">x</a>',
  '<a href="javascript&#58;alert(1)">x</a>',
  '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
  '<a href="data:text/html,<script>alert(1)</script>">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<svg><script>alert(1)</script></svg>',
  '<svg onload=alert(1)>',
  '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<form action="https://evil.example"><input name="password"><button>Go</button></form>',
  '<iframe src="https://evil.example"></iframe>',
  '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
  '<style>body{display:none}</style>',
  '<p style="background:url(javascript:alert(1))">styled</p>',
  '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<base href="https://evil.example/">',
  '[x](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1))',
  '[x](javascript&#58;alert(1))',
  '[x](&#x6A;avascript:alert(1))',
  '[x]( javascript:alert(1) )',
  '[x](<javascript:alert(1)>)',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](vbscript:msgbox(1))',
  '[ref][1]\n\n[1]: javascript:alert(1)',
  '<javascript:alert(1)>',
  '![x](https://evil.example/a.png)',
  '![x](javascript:alert(1))',
  '![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
  '![x" onerror="alert(1)](/a.png)',
  '[click](https://example.org "title\\" onmouseover=\\"alert(1)")',
  '```html\n<script>alert(1)</script>\n```',
  '`<img src=x onerror=alert(1)>`',
  '<details open ontoggle=alert(1)>',
  '<x onfocus=alert(1) autofocus tabindex=1>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  // Through the code-block path: hostile info strings and code, highlighted or not.
  '```"><img src=x onerror=alert(1)>\ncode\n```',
  '```javascript" onmouseover="alert(1)\nlet a = 1;\n```',
  "```js' onclick='alert(1)\nlet a = 1;\n```",
  '```html\n<img src=x onerror=alert(1)><script>alert(1)</script>\n```',
  '```js\n</code></pre><img src=x onerror=alert(1)>\n```',
  '```xml\n<svg onload=alert(1)><a xlink:href="javascript:alert(1)">x</a></svg>\n```',
  '```markdown\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n```',
  '```__proto__\nx\n```',
  '~~~css style="color:red"\nbody { background: url(javascript:alert(1)) }\n~~~',
  '- [x] <img src=x onerror=alert(1)>\n- [ ] [x](javascript:alert(1))',
];

function parse(html: string): HTMLElement {
  const holder = document.createElement('div');
  holder.innerHTML = html;
  return holder;
}

const DANGEROUS_URL = /^\s*(javascript|vbscript|data|file):/i;

function assertInert(html: string): void {
  const root = parse(html);
  expect(root.querySelector('script, iframe, object, embed, form, input, style, svg, math, meta, base, link')).toBeNull();
  for (const element of root.querySelectorAll('*')) {
    for (const attribute of element.attributes) {
      expect(attribute.name, `${element.tagName} ${attribute.name}`).not.toMatch(/^on/i);
      expect(attribute.name).not.toBe('style');
      if (['href', 'src', 'action', 'xlink:href', 'formaction', 'srcdoc'].includes(attribute.name)) {
        expect(attribute.value).not.toMatch(DANGEROUS_URL);
      }
    }
  }
  for (const link of root.querySelectorAll('a')) {
    expect(link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(link.getAttribute('target')).toBe('_blank');
    const href = link.getAttribute('href');
    if (href !== null) expect(new URL(href, ORIGIN).protocol).toMatch(/^(https?|mailto):$/);
  }
  for (const image of root.querySelectorAll('img')) {
    const src = image.getAttribute('src');
    if (src !== null) expect(new URL(src, ORIGIN).origin).toBe(ORIGIN);
  }
  expect(html).not.toMatch(/<script/i);
}

describe('renderMarkdown', () => {
  it.each(PAYLOADS)('renders %j inert', (payload) => {
    assertInert(renderMarkdown(payload));
    assertInert(renderMarkdown(payload, { highlight: highlightCode }));
    // The same payload inside ordinary Markdown structure.
    assertInert(renderMarkdown(`# Title\n\n- item ${payload}\n\n> ${payload}\n\n| a |\n|---|\n| ${payload} |`));
    // And as the code of a highlighted block in several languages.
    for (const language of ['html', 'js', 'markdown', 'bash', 'unknown']) {
      assertInert(renderMarkdown(`\`\`\`${language}\n${payload}\n\`\`\``, { highlight: highlightCode }));
    }
  });

  it('shows raw HTML as text instead of rendering it', () => {
    const root = parse(renderMarkdown('Hello <b onclick="x()">bold</b> <script>alert(1)</script>'));
    expect(root.querySelector('b')).toBeNull();
    expect(root.textContent).toContain('<script>alert(1)</script>');
    expect(root.textContent).toContain('<b onclick="x()">');
  });

  it('keeps ordinary Markdown', () => {
    const root = parse(renderMarkdown('# Head\n\n**bold** _em_ `code`\n\n1. one\n2. two\n\n```js\nlet a = 1 < 2;\n```\n\n| a | b |\n|:-:|---|\n| 1 | 2 |'));
    expect(root.querySelector('h1')?.textContent).toBe('Head');
    expect(root.querySelector('strong')?.textContent).toBe('bold');
    expect(root.querySelector('em')?.textContent).toBe('em');
    expect(root.querySelectorAll('ol li')).toHaveLength(2);
    expect(root.querySelector('pre code')?.textContent).toBe('let a = 1 < 2;\n');
    expect(root.querySelector('pre code')?.className).toBe('language-js');
    expect(root.querySelectorAll('td')).toHaveLength(2);
  });

  it('lets http, https and mailto links through with rel and target', () => {
    const root = parse(renderMarkdown('[a](https://example.org/x?y=1) [b](http://example.org) [c](mailto:someone@example.org) https://auto.example.org'));
    const links = [...root.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.org/x?y=1', 'http://example.org', 'mailto:someone@example.org', 'https://auto.example.org']);
    for (const link of links) {
      expect(link.rel).toBe('noopener noreferrer');
      expect(link.target).toBe('_blank');
    }
  });

  it('drops the target of a javascript: link but keeps its text', () => {
    const root = parse(renderMarkdown('[click me](javascript:alert(1))'));
    expect(root.textContent).toContain('click me');
    expect(root.querySelector('a[href]')).toBeNull();
  });

  it('loads images from this origin only; others become links', () => {
    const same = parse(renderMarkdown('![chart](/files/chart.png)'));
    expect(same.querySelector('img')?.getAttribute('src')).toBe('/files/chart.png');
    const other = parse(renderMarkdown('![tracker](https://evil.example/a.png)'));
    expect(other.querySelector('img')).toBeNull();
    expect(other.querySelector('a')?.getAttribute('href')).toBe('https://evil.example/a.png');
    expect(other.querySelector('a')?.textContent).toBe('tracker');
    const allowed = parse(renderMarkdown('![cdn](https://cdn.example/a.png)', { imageOrigins: ['https://cdn.example'] }));
    expect(allowed.querySelector('img')?.getAttribute('src')).toBe('https://cdn.example/a.png');
  });

  it('turns known citation markers into buttons, not inside code or links', () => {
    const root = parse(renderMarkdown('Within **30 days** [1][2]. Not [3]. `[1]` [see [1]](https://example.org)', { citationIds: new Set(['1', '2']) }));
    const buttons = [...root.querySelectorAll('button.citation')];
    expect(buttons.map((b) => b.getAttribute('data-citation'))).toEqual(['1', '2']);
    expect(buttons[0]?.getAttribute('aria-label')).toBe('Source 1');
    expect(root.textContent).toContain('[3]');
    expect(root.querySelector('code')?.textContent).toBe('[1]');
  });
});
