/**
 * `bastion eval retrieval` as an operator runs it: a folder of documents and a questions file
 * in, the table out; a question that could never be answered, or bad arguments, refused.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startFakeLlm } from './fake-llm.js';
import { createPostgresDatabase, postgresDatabaseName, tempDir, TEST_DATABASE_URL, TEST_RUN } from './harness.js';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));

function bastion(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...args], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...env }, encoding: 'utf8', timeout: 90_000 });
  return { status: result.status, out: result.stdout + result.stderr };
}

/** Without blocking this process: the fake provider it talks to runs here. */
function bastionAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/entry.ts', ...args], { cwd: SERVER_DIR, env: { PATH: TEST_RUN.path, ...env }, encoding: 'utf8', timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

describe('bastion eval retrieval', () => {
  it('ingests a folder, asks the questions and prints recall, MRR and the misses; refuses unanswerable questions', async () => {
    const dir = await tempDir('eval');
    const corpus = path.join(dir, 'handbook');
    await mkdir(corpus);
    await writeFile(path.join(corpus, 'travel.md'), '# Travel\n\nEconomy class is booked for flights under six hours.\n\n## Hotels\n\nHotel costs are reimbursed up to the city limit.');
    await writeFile(path.join(corpus, 'leave.md'), '# Leave\n\nEmployees get 25 days of paid vacation per year.');
    await writeFile(path.join(corpus, 'contacts.md'), '# Contacts\n\nQuestions about a flight, vacation days, hotels or charging an electric car: write to the office.');
    await writeFile(path.join(corpus, 'page.html'), '<html><body><nav><a href="/">Home</a></nav><h1>Parking</h1><p>The garage has 40 spaces for electric cars.</p></body></html>');
    const questions = path.join(dir, 'handbook.tsv');
    await writeFile(
      questions,
      'question\tdocument\tphrase\nwhich class for a four hour flight\ttravel.md\tEconomy class is booked\nhow many vacation days\tleave.md\t25 days of paid vacation\nwhere to charge my electric car\tpage.html\t40 spaces for electric cars\nwho pays the taxi\ttravel.md\tHotel costs are reimbursed\n',
    );
    const env: Record<string, string> = { DATA_DIR: path.join(dir, 'data') };
    if (TEST_DATABASE_URL) env.DATABASE_URL = await createPostgresDatabase(postgresDatabaseName('eval'));

    const run = bastion(['eval', 'retrieval', '--corpus', corpus, '--questions', questions], env);
    expect(run.status, run.out).toBe(0);
    expect(run.out).toContain('handbook: 4 documents');
    // Judged on the chunks found, then on the passages answers are given (the hit with its neighbours).
    expect(run.out.match(/\| handbook \| 4 \| [\d.]+ \| [\d.]+ \|/gu)).toHaveLength(2);
    expect(run.out).toContain('As answers read them: each hit with 1 chunk on either side');
    expect(run.out).toContain('Search latency over 4 questions');
    expect(run.out).toContain('"who pays the taxi" → travel.md');

    // The same questions reranked in the same run: a second table and what reranking cost.
    const fake = await startFakeLlm();
    try {
      await writeFile(path.join(dir, 'rerank.key'), 'sk-eval-rerank-key\n');
      const reranked = await bastionAsync(['eval', 'retrieval', '--corpus', corpus, '--questions', questions, '--rerank', `${fake.url}/v1`, 'fake-reranker', '--rerank-key-file', path.join(dir, 'rerank.key')], env);
      expect(reranked.status, reranked.out).toBe(0);
      expect(reranked.out).toContain(`Reranked by fake-reranker at ${fake.url}/v1`);
      expect(reranked.out.match(/\| handbook \| 4 \| [\d.]+ \| [\d.]+ \|/gu)).toHaveLength(3);
      expect(reranked.out).toMatch(/Reranking over \d+ searches \(endpoint\): p50 \d+ ms, p95 \d+ ms, [1-9]\d* tokens/u);
      const calls = fake.requests.filter((r) => r.path === '/v1/rerank');
      expect(calls.length).toBeGreaterThan(0);
      expect(calls[0]!.headers.authorization).toBe('Bearer sk-eval-rerank-key');
      expect(calls[0]!.body.model).toBe('fake-reranker');

      // Hybrid in the same run: every chunk embedded by the named model, every question then
      // searched with its vector too (a table), and by its vector alone (another).
      fake.requests.length = 0;
      await writeFile(path.join(dir, 'embed.key'), 'sk-eval-embed-key\n');
      const hybrid = await bastionAsync(['eval', 'retrieval', '--corpus', corpus, '--questions', questions, '--embed', `${fake.url}/v1`, 'fake-embedder', '--embed-key-file', path.join(dir, 'embed.key')], env);
      expect(hybrid.status, hybrid.out).toBe(0);
      expect(hybrid.out).toContain(`Hybrid: full text fused with vector search by fake-embedder at ${fake.url}/v1`);
      expect(hybrid.out).toContain('Vector search alone by fake-embedder');
      expect(hybrid.out.match(/\| handbook \| 4 \| [\d.]+ \| [\d.]+ \|/gu)).toHaveLength(4);
      const chunks = Number(/embedded (\d+) chunks with fake-embedder/u.exec(hybrid.out)?.[1]);
      expect(chunks).toBeGreaterThanOrEqual(4);
      const embedded = fake.requests.filter((r) => r.path === '/v1/embeddings');
      expect(embedded.every((r) => r.headers.authorization === 'Bearer sk-eval-embed-key' && r.body.model === 'fake-embedder')).toBe(true);
      const inputs = embedded.flatMap((r) => r.body.input as string[]);
      // The chunks once; each question twice: hybrid, then vector search alone.
      expect(inputs).toHaveLength(chunks + 8);
      expect(inputs).toContain('who pays the taxi');
    } finally {
      await fake.close();
    }
    for (const args of [['--rerank'], ['--rerank', 'http://127.0.0.1:1/v1'], ['--rerank', 'file:///etc/passwd', 'm'], ['--rerank', 'http://127.0.0.1:1/v1', 'm', '--rerank-key-file', path.join(dir, 'missing.key')]]) {
      const refused = bastion(['eval', 'retrieval', '--corpus', corpus, '--questions', questions, ...args], env);
      expect(refused.status, refused.out).toBe(2);
      expect(refused.out).toMatch(/--rerank/u);
    }
    const named = bastion(['eval', 'retrieval', '--base', '00000000-0000-4000-8000-000000000000', '--questions', questions, '--embed', 'http://127.0.0.1:1/v1', 'm'], env);
    expect(named.status, named.out).toBe(2);
    expect(named.out).toContain('--embed works with --corpus only');

    await writeFile(questions, 'question\tdocument\tphrase\nwhere do I park\tpage.html\tHome\n');
    const unanswerable = bastion(['eval', 'retrieval', '--corpus', corpus, '--questions', questions], env);
    expect(unanswerable.status, unanswerable.out).toBe(1);
    expect(unanswerable.out).toContain('have a phrase that is in no chunk of their document');

    const bad = bastion(['eval', 'retrieval', '--corpus', corpus], env);
    expect(bad.status).toBe(2);
    expect(bad.out).toContain('give one --questions file for each --base or --corpus');
  }, 120_000);
});
