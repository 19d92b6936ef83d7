/** Query planning for full-text search: rare words select candidates, common words only rank. */
import { describe, expect, it } from 'vitest';
import { CANDIDATE_BUDGET, excludedWords, isWebSearchSyntax, optionsAsWords, planQuery, queryWords } from './fulltext.js';

describe('full-text query planning', () => {
  const frequencies: Record<string, number> = { plan: 40_000, refund: 300, annual: 1_200, invoice: 900 };
  const df = (l: string) => frequencies[l] ?? 0;

  it('selects candidates by the rarest words that fit the budget together, and ranks by all of them', () => {
    expect(CANDIDATE_BUDGET).toBe(700);
    expect(planQuery(['annual', 'plan', 'refund', 'invoice'], df)).toEqual({ filter: 'refund', all: false });
    expect(planQuery(['annual', 'plan', 'refund', 'invoice'], df, 2_000)).toEqual({ filter: 'refund | invoice', all: false });
    expect(planQuery(['annual', 'plan', 'refund'], df, 2_000)).toEqual({ filter: 'refund | annual', all: false });
    expect(planQuery(['zebra', 'plan'], df)).toEqual({ filter: 'zebra', all: false });
  });

  it('requires every word when even the rarest is in more chunks than the budget', () => {
    expect(planQuery(['plan'], df)).toEqual({ filter: 'plan', all: false });
    expect(planQuery(['plan', 'annual'], df, 1_000)).toEqual({ filter: 'plan & annual', all: true });
    expect(planQuery([], df)).toBeNull();
  });

  it('keeps only letters and digits, so hostile input never reaches tsquery syntax', () => {
    expect(queryWords("refund ') | !x & <-> :* plan's")).toEqual(['refund', 'plan']);
    expect(queryWords('a'.repeat(5) + ' ' + Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ')).length).toBe(32);
  });

  it('recognises web-search syntax typed on purpose', () => {
    expect(isWebSearchSyntax('"annual plan" refund')).toBe(true);
    expect(isWebSearchSyntax('refund -monthly')).toBe(true);
    expect(isWebSearchSyntax('refund or credit')).toBe(true);
    expect(isWebSearchSyntax('how do refunds work for annual plans')).toBe(false);
    expect(isWebSearchSyntax('two-factor setup')).toBe(false);
  });

  it('reads -n and -xz as command-line options, and longer -words as exclusions', () => {
    expect(optionsAsWords('what does rsync -n do')).toBe('what does rsync n do');
    expect(optionsAsWords('tar -xz, then ls -la.')).toBe('tar xz, then ls la.');
    expect(isWebSearchSyntax(optionsAsWords('what does rsync -n do'))).toBe(false);
    expect(optionsAsWords('refund -monthly')).toBe('refund -monthly');
    expect(optionsAsWords('tar --exclude')).toBe('tar --exclude');
    expect(excludedWords('refund -Monthly or -yearly plan')).toEqual(['monthly', 'yearly']);
  });
});
