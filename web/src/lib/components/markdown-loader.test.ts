import { describe, expect, it } from 'vitest';
import { needsHighlighter } from './markdown-loader';

describe('needsHighlighter', () => {
  it('is true for a fenced code block with a language, also in lists and quotes', () => {
    for (const text of ['```js\nx\n```', 'Intro\n\n~~~python\nx', '- item\n\n  ```go\n  x', '> ```sql\n> x', '1. ```rust', '````md\nx']) {
      expect(needsHighlighter(text), text).toBe(true);
    }
  });

  it('is false without a fence, for a fence without a language and for plain-text fences', () => {
    for (const text of ['Just **text** and `code`.', '```\nplain\n```', '```text\nout\n```', '~~~ Output\nx', 'a ```js inline', '    indented code']) {
      expect(needsHighlighter(text), text).toBe(false);
    }
  });
});
