import { describe, expect, it } from 'vitest';
import { IncrementalMarkdown } from './incremental';

describe('IncrementalMarkdown', () => {
  it('renders finished blocks once and only the tail again', () => {
    const rendered: string[] = [];
    const md = new IncrementalMarkdown((source) => {
      rendered.push(source);
      return `<${source.trim()}>`;
    });
    const text = 'First paragraph.\n\n```\ncode\n\nstill code\n```\n\nSecond\n';
    let tail = '';
    let committedAt = -1;
    for (let i = 1; i <= text.length; i++) {
      tail = md.update(text.slice(0, i));
      if (committedAt === -1 && md.blocks.length === 1) committedAt = rendered.length;
    }
    expect(md.blocks).toEqual(['<First paragraph.>', '<```\ncode\n\nstill code\n```>']);
    expect(tail).toBe('<Second>');
    // Once finished, a block is not parsed again.
    expect(committedAt).toBeGreaterThan(0);
    expect(rendered.slice(committedAt).some((s) => s.includes('First'))).toBe(false);
  });

  it('renders the unfinished tail with its own renderer', () => {
    const md = new IncrementalMarkdown(
      (s) => `block(${s.trim()})`,
      (s) => `tail(${s.trim()})`,
    );
    expect(md.update('Intro\n\n```js\nlet a')).toBe('tail(```js\nlet a)');
    expect(md.blocks).toEqual(['block(Intro)']);
    // The fence is closed but nothing follows yet: still the tail.
    expect(md.update('Intro\n\n```js\nlet a\n```\n')).toBe('tail(```js\nlet a\n```)');
    expect(md.update('Intro\n\n```js\nlet a\n```\n\nNext\n')).toBe('tail(Next)');
    expect(md.blocks).toEqual(['block(Intro)', 'block(```js\nlet a\n```)']);
  });

  it('keeps an indented continuation with its list', () => {
    const md = new IncrementalMarkdown((s) => s);
    md.update('- one\n\n  more of one\n\n- two\n');
    expect(md.blocks).toEqual([]);
  });
});
