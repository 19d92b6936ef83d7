// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from 'vitest';
import { clearDrafts, loadDraft, saveDraft } from './drafts';

describe('drafts', () => {
  beforeEach(() => sessionStorage.clear());

  it('keeps an unsent message per conversation until it is emptied or everything is cleared', () => {
    saveDraft('c1', 'half a question');
    saveDraft('c2', 'another');
    expect(loadDraft('c1')).toBe('half a question');
    saveDraft('c1', '   ');
    expect(loadDraft('c1')).toBe('');
    sessionStorage.setItem('unrelated', 'x');
    clearDrafts();
    expect(loadDraft('c2')).toBe('');
    expect(sessionStorage.getItem('unrelated')).toBe('x');
  });
});
