import { describe, expect, it } from 'vitest';
import { defaultConfig, describeChanges } from './agent';

describe('describeChanges', () => {
  it('names the fields a version changed, in words', () => {
    const first = { ...defaultConfig(), name: 'Helper' };
    const second = { ...first, systemPrompt: 'Answer briefly.', temperature: 0.7 };
    expect(describeChanges(undefined, first, 1)).toBe('First version');
    expect(describeChanges(first, second, 2)).toBe('Changed: system prompt, temperature');
    expect(describeChanges(first, { ...first }, 2)).toBe('No change');
    expect(describeChanges(undefined, second, 7)).toBe('');
  });
});
