/**
 * Retrieval evaluation: how often search brings back the passage that answers a question.
 * A question names the document that answers it and a phrase from the answer; a result is
 * relevant at passage level when it is a chunk of that document containing the phrase
 * (case and whitespace folded), at document level when it is any chunk of that document.
 * Used by `bastion eval retrieval`; the method is described in docs/retrieval-evaluation.md.
 */

export interface EvalQuestion {
  question: string;
  /** The answering document's filename, as uploaded. */
  document: string;
  /** Words of the answer, verbatim from the document. */
  phrase: string;
}

export interface EvalResult {
  filename: string;
  heading: string | null;
  text: string;
}

export interface Judged {
  question: EvalQuestion;
  /** 1-based rank of the first result containing the phrase; null when none in the results. */
  passageRank: number | null;
  /** 1-based rank of the first result from the answering document; null when none. */
  documentRank: number | null;
  results: EvalResult[];
}

export interface Scores {
  questions: number;
  recallAt1: number;
  recallAt5: number;
  recallAt10: number;
  mrr: number;
  ndcgAt10: number;
}

/** Lower case, every run of whitespace one space, soft hyphens gone: how phrases are compared. */
export function fold(text: string): string {
  return text.replaceAll('\u00ad', '').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** Parses a questions file: tab-separated `question document phrase`, a header line, `#` comments. */
export function parseQuestions(tsv: string): EvalQuestion[] {
  const questions: EvalQuestion[] = [];
  const lines = tsv.split(/\r?\n/u);
  lines.forEach((line, index) => {
    if (index === 0 && /^question\tdocument\tphrase\s*$/iu.test(line)) return;
    if (line.trim() === '' || line.startsWith('#')) return;
    const [question, document, phrase] = line.split('\t').map((field) => field.trim());
    if (!question || !document || !phrase) throw new Error(`line ${index + 1}: expected three tab-separated fields (question, document, phrase)`);
    questions.push({ question, document, phrase });
  });
  return questions;
}

/** Where the first relevant result is, at passage and at document level. */
export function judge(question: EvalQuestion, results: EvalResult[]): Judged {
  const phrase = fold(question.phrase);
  const fromDocument = (result: EvalResult) => result.filename === question.document;
  const rank = (relevant: (result: EvalResult) => boolean) => {
    const index = results.findIndex(relevant);
    return index < 0 ? null : index + 1;
  };
  return {
    question,
    passageRank: rank((result) => fromDocument(result) && fold(`${result.heading ?? ''} ${result.text}`).includes(phrase)),
    documentRank: rank(fromDocument),
    results,
  };
}

/**
 * Recall@k (the share of questions with a relevant result in the top k), MRR (the mean of
 * 1/rank of the first relevant result, 0 when there is none in the top 10) and nDCG@10. One
 * answer per question, so nDCG@10 is 1/log2(1 + rank) of the first relevant result.
 */
export function score(ranks: (number | null)[]): Scores {
  const n = ranks.length || 1;
  const within = (k: number) => ranks.filter((rank) => rank !== null && rank <= k).length / n;
  const sum = (value: (rank: number) => number) => ranks.reduce<number>((total, rank) => total + (rank !== null && rank <= 10 ? value(rank) : 0), 0) / n;
  return { questions: ranks.length, recallAt1: within(1), recallAt5: within(5), recallAt10: within(10), mrr: sum((rank) => 1 / rank), ndcgAt10: sum((rank) => 1 / Math.log2(1 + rank)) };
}

export interface CorpusReport {
  name: string;
  passage: Scores;
  document: Scores;
  judged: Judged[];
}

export function report(name: string, judged: Judged[]): CorpusReport {
  return { name, passage: score(judged.map((j) => j.passageRank)), document: score(judged.map((j) => j.documentRank)), judged };
}

const f = (value: number) => value.toFixed(2);

/** The Markdown table of the reports (one row per corpus, then all questions together). */
export function table(reports: CorpusReport[]): string {
  const rows =
    reports.length > 1
      ? [
          ...reports,
          report(
            'all',
            reports.flatMap((r) => r.judged),
          ),
        ]
      : reports;
  return [
    '| corpus | questions | passage R@1 | R@5 | R@10 | MRR | nDCG@10 | document R@1 | R@5 | R@10 | MRR |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      ({ name, passage: p, document: d }) =>
        `| ${name} | ${p.questions} | ${f(p.recallAt1)} | ${f(p.recallAt5)} | ${f(p.recallAt10)} | ${f(p.mrr)} | ${f(p.ndcgAt10)} | ${f(d.recallAt1)} | ${f(d.recallAt5)} | ${f(d.recallAt10)} | ${f(d.mrr)} |`,
    ),
  ].join('\n');
}

/** The questions whose passage was not in the top 5, with what came back instead. */
export function misses(report: CorpusReport, limit: number): string[] {
  return report.judged
    .filter((j) => j.passageRank === null || j.passageRank > 5)
    .slice(0, limit)
    .map((j) => {
      const got = j.results
        .slice(0, 3)
        .map((r) => `${r.filename}${r.heading ? ` › ${r.heading}` : ''}`)
        .join('; ');
      const where = j.passageRank ? `passage at ${j.passageRank}` : j.documentRank ? `document at ${j.documentRank}, passage not in the top 10` : 'document not in the top 10';
      return `- "${j.question.question}" → ${j.question.document} ("${j.question.phrase}"): ${where}; top 3: ${got || 'nothing'}`;
    });
}
