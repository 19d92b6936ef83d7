import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import { MessageSearch } from './message-search.svelte';
import { hitHref, snippetParts, type SearchHit, type SearchResponse } from './search';

vi.mock('$lib/api', () => ({
  api: { get: vi.fn() },
  errorMessage: (e: unknown) => (e instanceof Error ? e.message : 'Something went wrong; try again.'),
}));

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

describe('MessageSearch', () => {
  const get = vi.mocked(api.get);
  /** The requests made, each answered (or refused) when the test says so. */
  let calls: { path: string; signal: AbortSignal; resolve: (r: SearchResponse) => void; reject: (e: unknown) => void }[];
  const answer = (title: string): SearchResponse =>
    ({ words: [title], results: [{ conversation: { id: title, title }, match: { messageId: null, role: null, createdAt: null, snippet: title, highlights: [] }, matched: 1, score: 1 }] }) as unknown as SearchResponse;
  const titles = (search: MessageSearch) => search.hits?.map((h) => h.conversation.title);

  beforeEach(() => {
    vi.useFakeTimers();
    calls = [];
    get.mockReset();
    get.mockImplementation((path: string, options?: { signal?: AbortSignal }) => new Promise((resolve, reject) => calls.push({ path, signal: options!.signal!, resolve: resolve as (r: SearchResponse) => void, reject })));
  });
  afterEach(() => vi.useRealTimers());

  it('asks only once typing pauses, for the trimmed text, and not for fewer than two characters', async () => {
    const search = new MessageSearch();
    search.set('p');
    expect(search.hits).toBeNull();
    expect(search.searching).toBe(false);
    search.set(' pe');
    search.set(' pel ');
    expect(search.searching).toBe(true);
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.path)).toEqual(['/conversations/search?q=pel&limit=20']);
    calls[0]!.resolve(answer('Birds'));
    await vi.advanceTimersByTimeAsync(0);
    expect(titles(search)).toEqual(['Birds']);
    expect(search.searching).toBe(false);
    search.set('p');
    expect(search.hits).toBeNull();
  });

  it('never lets an older answer overwrite a newer one', async () => {
    const search = new MessageSearch();
    search.set('alpha');
    await vi.advanceTimersByTimeAsync(250);
    search.set('beta');
    // The first request is cancelled, and the box still shows a search under way.
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(search.searching).toBe(true);
    calls[0]!.reject(new DOMException('aborted', 'AbortError'));
    await vi.advanceTimersByTimeAsync(0);
    expect(search.searching).toBe(true);
    expect(search.error).toBeNull();
    await vi.advanceTimersByTimeAsync(250);
    calls[1]!.resolve(answer('Beta'));
    calls[0]!.resolve(answer('Alpha')); // late, even though its request was aborted
    await vi.advanceTimersByTimeAsync(0);
    expect(titles(search)).toEqual(['Beta']);
    expect(search.searching).toBe(false);
  });

  it("shows the server's message on failure, and clears it when a search succeeds", async () => {
    const search = new MessageSearch();
    search.set('walrus');
    await vi.advanceTimersByTimeAsync(250);
    calls[0]!.reject(new Error('The search is unavailable.'));
    await vi.advanceTimersByTimeAsync(0);
    expect(search.error).toBe('The search is unavailable.');
    expect(search.hits).toEqual([]);
    search.refresh();
    calls[1]!.resolve(answer('Walrus'));
    await vi.advanceTimersByTimeAsync(0);
    expect(search.error).toBeNull();
    expect(titles(search)).toEqual(['Walrus']);
  });

  it('drops the pending search when disposed', async () => {
    const search = new MessageSearch();
    search.set('heron');
    search.dispose();
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toHaveLength(0);
    expect(search.searching).toBe(false);
  });
});
