import { describe, expect, it } from 'vitest';
import { attachmentName, groupConversations, neighbour, shortcutOf, type KeyPress } from './organise';

const c = (id: string, title: string | null, pinned: boolean, updatedAt: string) => ({ id, title, pinned, updatedAt });

describe('groupConversations', () => {
  const list = [c('a', 'Budget', false, '2026-01-01'), c('b', 'Lisbon trip', true, '2026-01-03'), c('c', null, false, '2026-01-04'), c('d', 'budget review', true, '2026-01-02')];

  it('puts pinned conversations first, each group most recent first', () => {
    const { pinned, recent } = groupConversations(list);
    expect(pinned.map((x) => x.id)).toEqual(['b', 'd']);
    expect(recent.map((x) => x.id)).toEqual(['c', 'a']);
  });

  it('filters titles case-insensitively, untitled ones by their shown name', () => {
    const { pinned, recent } = groupConversations(list, '  BUDGET ');
    expect(pinned.map((x) => x.id)).toEqual(['d']);
    expect(recent.map((x) => x.id)).toEqual(['a']);
    expect(groupConversations(list, 'new conv').recent.map((x) => x.id)).toEqual(['c']);
    expect(groupConversations(list, 'nothing like it')).toEqual({ pinned: [], recent: [] });
  });
});

describe('neighbour', () => {
  const order = ['a', 'b', 'c'];
  it('moves one step without wrapping, and enters the list from either end', () => {
    expect(neighbour(order, 'b', 1)).toBe('c');
    expect(neighbour(order, 'b', -1)).toBe('a');
    expect(neighbour(order, 'c', 1)).toBe('c');
    expect(neighbour(order, 'a', -1)).toBe('a');
    expect(neighbour(order, undefined, 1)).toBe('a');
    expect(neighbour(order, 'gone', -1)).toBe('c');
    expect(neighbour([], 'a', 1)).toBeUndefined();
  });
});

describe('shortcutOf', () => {
  const press = (key: string, extra: Partial<KeyPress> = {}): KeyPress => ({ key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, typing: false, ...extra });

  it('knows the modifier shortcuts, even while typing', () => {
    for (const typing of [false, true]) {
      expect(shortcutOf(press('O', { ctrlKey: true, shiftKey: true, typing }))).toBe('new');
      expect(shortcutOf(press('o', { metaKey: true, shiftKey: true, typing }))).toBe('new');
      expect(shortcutOf(press('k', { ctrlKey: true, typing }))).toBe('search');
      expect(shortcutOf(press('k', { metaKey: true, typing }))).toBe('search');
      expect(shortcutOf(press('ArrowDown', { altKey: true, typing }))).toBe('next');
      expect(shortcutOf(press('ArrowUp', { altKey: true, typing }))).toBe('previous');
    }
  });

  it('takes the single keys only outside text fields', () => {
    expect(shortcutOf(press('/'))).toBe('search');
    expect(shortcutOf(press('?', { shiftKey: true }))).toBe('help');
    expect(shortcutOf(press('/', { typing: true }))).toBeNull();
    expect(shortcutOf(press('?', { shiftKey: true, typing: true }))).toBeNull();
  });

  it('leaves every other key alone', () => {
    for (const p of [press('o', { ctrlKey: true }), press('k', { ctrlKey: true, shiftKey: true }), press('ArrowDown'), press('ArrowDown', { altKey: true, shiftKey: true }), press('k'), press('/', { ctrlKey: true }), press('Enter')]) {
      expect(shortcutOf(p), JSON.stringify(p)).toBeNull();
    }
  });
});

describe('attachmentName', () => {
  it('takes the quoted file name, never a path or a hidden file', () => {
    expect(attachmentName('attachment; filename="trip-0a1b.md"', 'x.md')).toBe('trip-0a1b.md');
    expect(attachmentName('attachment; filename="../../evil.sh"', 'x.md')).toBe('x.md');
    expect(attachmentName('attachment; filename=".bashrc"', 'x.md')).toBe('x.md');
    expect(attachmentName(null, 'x.json')).toBe('x.json');
  });
});
