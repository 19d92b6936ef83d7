/** Query planning for full-text search: rare words select candidates, common words only rank. */
import { describe, expect, it } from 'vitest';
import { COMMON_SHARE, isWebSearchSyntax, planQuery, queryWords } from './fulltext.js';

describe('full-text query planning', () => {
  const shares: Record<string, number> = { plan: 0.4, refund: 0.01, annual: 0.02 };
  const share = (l: string) => shares[l] ?? 0;

  it('selects candidates by the rare words and ranks by all of them', () => {
    expect(planQuery(['annual', 'plan', 'refund'], share)).toEqual({ filter: 'annual | refund', rank: 'annual | plan | refund' });
  });

  it('requires every word when all of them are common', () => {
    expect(COMMON_SHARE).toBeLessThan(0.4);
    expect(planQuery(['plan'], share)).toEqual({ filter: 'plan', rank: 'plan' });
    expect(planQuery(['plan', 'plan2'], (l) => (l === 'plan' ? 0.4 : 0.5))).toEqual({ filter: 'plan & plan2', rank: 'plan | plan2' });
    expect(planQuery([], share)).toBeNull();
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
});
