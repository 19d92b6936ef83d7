/**
 * Checks a questions file against its corpus before it is used: every row names a document of
 * the corpus, and its phrase occurs in that document's text as Bastion extracts it (case and
 * whitespace folded). Prints each bad row; exits 1 when there is one.
 *
 *   npx tsx eval/retrieval/check-questions.ts CORPUS_DIR QUESTIONS.tsv
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fold, parseQuestions } from '../../server/src/modules/knowledge/evaluation.js';
import { detectKind } from '../../server/src/platform/documents/detect.js';
import { extractText } from '../../server/src/platform/documents/extract.js';

const [dir, file] = process.argv.slice(2);
if (!dir || !file) throw new Error('usage: check-questions.ts CORPUS_DIR QUESTIONS.tsv');
const limits = { maxChars: 5_000_000, pdfTimeoutMs: 30_000, pdfMaxMemoryMb: 512, zipMaxEntries: 2_000, zipMaxTotalBytes: 200 * 1024 * 1024, zipMaxRatio: 100 };
const questions = parseQuestions(await readFile(file, 'utf8'));
const texts = new Map<string, string | null>();
const bad: string[] = [];
const seen = new Set<string>();
for (const [i, q] of questions.entries()) {
  if (seen.has(q.question.toLowerCase())) bad.push(`${i + 2}: duplicate question "${q.question}"`);
  seen.add(q.question.toLowerCase());
  if (!texts.has(q.document)) {
    const full = path.join(dir, q.document);
    try {
      const kind = await detectKind({ path: full, extension: path.extname(full).slice(1).toLowerCase() });
      texts.set(q.document, fold((await extractText(full, kind, limits)).text));
    } catch {
      texts.set(q.document, null);
    }
  }
  const text = texts.get(q.document);
  if (text === null) bad.push(`${i + 2}: no document ${q.document} in ${dir}`);
  else if (!text!.includes(fold(q.phrase))) bad.push(`${i + 2}: "${q.phrase}" is not in ${q.document}`);
}
const documents = new Set(questions.map((q) => q.document)).size;
console.log(`${file}: ${questions.length} questions over ${documents} documents; ${bad.length} bad`);
for (const line of bad) console.log(`  line ${line}`);
process.exit(bad.length > 0 ? 1 : 0);
