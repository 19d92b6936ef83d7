import { describe, expect, it } from 'vitest';
import { fold, judge, misses, parseQuestions, report, score, table } from './evaluation.js';

const question = { question: 'how do I keep the original when compressing', document: 'gzip.txt', phrase: "Keep (don't delete) input files" };

describe('retrieval evaluation', () => {
  it('reads a questions file: header, comments, blank lines; a short line is an error naming the line', () => {
    expect(parseQuestions(`question\tdocument\tphrase\n# a comment\n\n${question.question}\tgzip.txt\t${question.phrase}\n`)).toEqual([question]);
    expect(() => parseQuestions('question\tdocument\tphrase\nonly a question\tgzip.txt\n')).toThrow('line 2: expected three tab-separated fields');
  });

  it('counts a passage only when it is from the answering document and contains the phrase, case and spacing folded', () => {
    const other = { filename: 'zip.txt', heading: null, text: "-k Keep (don't delete) input files" };
    const sameDocElsewhere = { filename: 'gzip.txt', heading: 'NAME', text: 'gzip, gunzip - compress or expand files' };
    const answer = { filename: 'gzip.txt', heading: 'OPTIONS', text: "-k --keep\n       KEEP  (don't delete)\n  input files during compression" };
    const judged = judge(question, [other, sameDocElsewhere, answer]);
    expect(judged.passageRank).toBe(3);
    expect(judged.documentRank).toBe(2);
    expect(judge(question, [other]).passageRank).toBeNull();
    expect(fold('a\u00adb  C\n d')).toBe('ab c d');
  });

  it('scores recall@k, MRR and nDCG@10 from the ranks of the first relevant result', () => {
    const s = score([1, 3, null, 12]);
    expect(s).toMatchObject({ questions: 4, recallAt1: 0.25, recallAt5: 0.5, recallAt10: 0.5 });
    expect(s.mrr).toBeCloseTo((1 + 1 / 3) / 4, 6);
    expect(s.ndcgAt10).toBeCloseTo((1 + 1 / Math.log2(4)) / 4, 6);
  });

  it('prints a row per corpus and one for all, and lists the misses with what came back', () => {
    const hit = judge(question, [{ filename: 'gzip.txt', heading: null, text: question.phrase }]);
    const miss = judge({ ...question, question: 'unanswered' }, [{ filename: 'tar.txt', heading: 'DESCRIPTION', text: 'x' }]);
    const man = report('man', [hit, miss]);
    const output = table([man, report('html', [hit])]);
    expect(output).toContain('| man | 2 | 0.50 | 0.50 | 0.50 | 0.50 | 0.50 | 0.50 |');
    expect(output).toContain('| all | 3 | 0.67 |');
    expect(misses(man, 5)).toEqual(['- "unanswered" → gzip.txt ("Keep (don\'t delete) input files"): document not in the top 10; top 3: tar.txt › DESCRIPTION']);
  });
});
