import { describe, expect, it } from 'vitest';
import { chunkText } from './chunk.js';

const options = { maxTokens: 60, overlapTokens: 5 };

describe('chunking', () => {
  it('packs runs of short sibling sections under their parent, up to the budget, each with its title', () => {
    const entries = Array.from({ length: 12 }, (_, i) => `## Entry ${i}\n\nEntry ${i} does one small thing well.`).join('\n\n');
    const chunks = chunkText(`# Manual\n\n${entries}\n\n## Long\n\n${'word '.repeat(40)}`, options);
    const packed = chunks.filter((chunk) => chunk.heading === 'Manual');
    expect(packed.length).toBeGreaterThan(1);
    expect(packed[0]!.text.startsWith('Entry 0\nEntry 0 does one small thing well.\n\nEntry 1\n')).toBe(true);
    for (const chunk of packed) expect(chunk.text.split(/\s+/).length).toBeLessThanOrEqual(options.maxTokens + options.overlapTokens);
    expect(chunks.find((chunk) => chunk.heading === 'Manual > Long')?.text).toContain('word word');
  });

  it('does not take a comment in a fenced code block for a heading', () => {
    const chunks = chunkText('# Deploy\n\nThe proxy:\n\n```nginx\n# This is the directive that proxies\n\nproxy_pass http://app;\n```\n\nDone.', options);
    expect(chunks.map((chunk) => chunk.heading)).toEqual(['Deploy']);
  });
});
