import { describe, expect, it } from 'vitest';
import { queryWords } from './search.js';
import { snippetOf, stemOf, termCounts, wordsOf, WORD_MAX_CHARS } from './search-text.js';

describe('the words search sees', () => {
  it('folds and stems English words, keeps other scripts, drops the commonest words and very long ones', () => {
    expect(['Running', 'runs', 'RUN'].map(stemOf)).toEqual(['run', 'run', 'run']);
    expect(stemOf('invoices')).toBe(stemOf('invoicing'));
    expect(stemOf('Zürich')).toBe('zürich');
    expect(stemOf('ＡＢＣ')).toBe(stemOf('abc')); // NFKC: full-width letters are the same word
    expect(stemOf('日本語')).toBe('日本語');
    expect(stemOf('the')).toBeNull();
    expect(stemOf('x'.repeat(WORD_MAX_CHARS + 1))).toBeNull();
    expect(stemOf("Anna's")).toBe(stemOf('Anna'));
  });

  it('splits on anything that is not a letter or digit, and counts repeats', () => {
    expect(wordsOf('a<b>c;DROP--table').map((w) => w.stem)).toEqual(['b', 'c', 'drop', 'tabl']);
    expect(Object.fromEntries(termCounts('Invoice, invoices and INVOICING: 2024 2024'))).toEqual({ invoic: 3, '2024': 2 });
    expect(queryWords('the THE of')).toEqual([]);
    expect(queryWords('a b c d e f g h i j k l m n').length).toBe(10);
  });
});

describe('snippets', () => {
  const stems = (q: string) => new Set(queryWords(q));

  it('answers a short text whole, with the words found marked', () => {
    const snippet = snippetOf('Upload the invoices\n\tto the portal', stems('invoice portal'));
    expect(snippet.text).toBe('Upload the invoices to the portal');
    expect(snippet.highlights.map(({ start, end }) => snippet.text.slice(start, end))).toEqual(['invoices', 'portal']);
  });

  it('cuts a long text around the place holding the most of the words, on word boundaries', () => {
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
    const text = `${filler(50)} heron once ${filler(30)} heron survey results ${filler(60)}`;
    const snippet = snippetOf(text, stems('heron survey'));
    expect(snippet.text.startsWith('… ')).toBe(true);
    expect(snippet.text.endsWith(' …')).toBe(true);
    expect(snippet.text).toContain('heron survey results');
    expect(snippet.text.length).toBeLessThanOrEqual(204);
    for (const { start, end } of snippet.highlights) expect(['heron', 'survey']).toContain(snippet.text.slice(start, end));
    // Cut between words: what is between the ellipses is in the text with a space on each side.
    const core = snippet.text.slice(2, -2);
    const at = text.indexOf(core);
    expect(at).toBeGreaterThan(0);
    expect([text[at - 1], text[at + core.length]]).toEqual([' ', ' ']);
  });

  it('shows Markdown as text: no emphasis, heading, list or table markers, links by their text', () => {
    const answer = '## Budget\n\n- The **pelican budget** covers `binoculars` and [a boat](https://example.org/boat).\n\n| item | cost |\n|---|---|\n| boat | 40 |\n\n```js\nconst x = 1;\n```';
    const snippet = snippetOf(answer, stems('pelican'));
    expect(snippet.text).toBe('Budget The pelican budget covers binoculars and a boat. item cost boat 40 const x = 1;');
    expect(snippet.highlights.map(({ start, end }) => snippet.text.slice(start, end))).toEqual(['pelican']);
    expect(snippetOf('snake_case and 2 * 3 * 4 stay', stems('snake')).text).toBe('snake_case and 2 * 3 * 4 stay');
  });

  it('answers the start of the text when no word is found in it (the title matched)', () => {
    expect(snippetOf('Nothing here', stems('absent'))).toEqual({ text: 'Nothing here', highlights: [] });
  });
});
