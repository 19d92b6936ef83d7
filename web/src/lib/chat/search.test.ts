import { describe, expect, it } from 'vitest';
import { hitHref, snippetParts, type SearchHit } from './search';

const joined = (parts: { text: string }[]) => parts.map((p) => p.text).join('');

describe('snippetParts', () => {
  it('splits a snippet into plain and emphasised runs, keeping every character', () => {
    const snippet = '… upload each supplier invoice as a PDF …';
    const parts = snippetParts(snippet, [
      { start: 14, end: 22 },
      { start: 23, end: 30 },
    ]);
    expect(parts).toEqual([
      { text: '… upload each ', mark: false },
      { text: 'supplier', mark: true },
      { text: ' ', mark: false },
      { text: 'invoice', mark: true },
      { text: ' as a PDF …', mark: false },
    ]);
  });

  it('keeps markup as text: the parts are rendered as text nodes', () => {
    const snippet = 'see <img src=x onerror=alert(1)> pelican';
    const parts = snippetParts(snippet, [{ start: 33, end: 40 }]);
    expect(joined(parts)).toBe(snippet);
    expect(parts.at(-1)).toEqual({ text: 'pelican', mark: true });
  });

  it('clamps or skips bad offsets without losing text', () => {
    const snippet = 'abcdefghij';
    for (const highlights of [
      [{ start: -5, end: 3 }],
      [{ start: 8, end: 500 }],
      [{ start: 5, end: 2 }],
      [
        { start: 2, end: 6 },
        { start: 4, end: 8 },
      ],
      [
        { start: 6, end: 8 },
        { start: 1, end: 2 },
      ],
      [{ start: Number.NaN, end: 4 }],
      [{ start: 20, end: 30 }],
    ]) {
      const parts = snippetParts(snippet, highlights);
      expect(joined(parts), JSON.stringify(highlights)).toBe(snippet);
      expect(parts.every((p) => p.text.length > 0)).toBe(true);
    }
    expect(
      snippetParts(snippet, [
        { start: 2, end: 6 },
        { start: 4, end: 8 },
      ])
        .filter((p) => p.mark)
        .map((p) => p.text),
    ).toEqual(['cdef', 'gh']);
    expect(snippetParts('', [{ start: 0, end: 3 }])).toEqual([]);
  });
});

describe('hitHref', () => {
  const hit = (messageId: string | null) => ({ conversation: { id: 'c1' }, match: { messageId } }) as unknown as SearchHit;
  it('leads to the conversation at the matching message, or to its top for a title', () => {
    expect(hitHref(hit('m1'))).toBe('/chat/c1#message-m1');
    expect(hitHref(hit(null))).toBe('/chat/c1');
  });
});
