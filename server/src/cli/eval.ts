/**
 * `bastion eval retrieval`: measures whether search brings back the passage that answers
 * each question of a questions file (see modules/knowledge/evaluation.ts), either over an
 * existing knowledge base (`--base`) or over a folder of documents (`--corpus`) ingested
 * into a throw-away workspace of the configured database, removed again afterwards. The
 * documents go through the same extraction and chunking as uploads; searches run as the
 * search endpoint runs them, without the result cache.
 *
 * `--rerank URL MODEL` measures reranking (modules/knowledge/reranking.ts) in the same run:
 * every question is asked once as searched and once reranked by MODEL at the OpenAI-compatible
 * URL (its /rerank endpoint, else a chat model's judgement; key read from --rerank-key-file), and the
 * two tables are printed with the reranking's latency and tokens.
 *
 * `--embed URL MODEL` (with `--corpus`) measures hybrid retrieval: each corpus's chunks are
 * embedded by MODEL, the base names it, and every question is asked again as a base with an
 * embedding model is searched (full text fused with vector search).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { Config } from '../config/index.js';
import { CHUNKING, extractLimits } from '../modules/knowledge/ingestion.js';
import { fold, judge, misses, parseQuestions, report, table, type CorpusReport, type EvalQuestion } from '../modules/knowledge/evaluation.js';
import { chunkHits, saveChunks } from '../modules/knowledge/repo.js';
import { Reranker, type RerankOutcome } from '../modules/knowledge/reranking.js';
import { ChunkEmbeddings, type EmbeddingTarget } from '../modules/knowledge/embeddings.js';
import { backfillEmbeddings } from '../modules/knowledge/pipeline.js';
import type { ProviderResolver } from '../modules/providers/resolver.js';
import { NEIGHBOURS, withNeighbours } from '../modules/knowledge/context.js';
import { KnowledgeRetrieval } from '../modules/knowledge/retrieval.js';
import { createProvider } from '../platform/llm/index.js';
import { chunkText } from '../platform/documents/chunk.js';
import { detectKind } from '../platform/documents/detect.js';
import { extractText } from '../platform/documents/extract.js';
import type { Db } from '../platform/db/database.js';
import type { JsonCache } from '../platform/store/cache.js';
import { systemClock } from '../platform/clock.js';
import { withDatabase } from './database.js';

export const EVAL_USAGE = `  eval retrieval --questions FILE (--base ID | --corpus DIR) [--questions FILE --corpus DIR …] [--misses N]
                 [--rerank URL MODEL [--rerank-key-file FILE]] [--embed URL MODEL [--embed-key-file FILE]]
                   how often search returns the answering passage: recall@1/5/10, MRR, nDCG@10;
                   with --rerank, also reranked by MODEL at the OpenAI-compatible URL;
                   with --embed (corpora only), also hybrid: full text fused with MODEL's vectors`;

const TOP_K = 10;
const DEFAULT_MISSES = 10;

/** No caching: every question is searched. */
const noCache = { getOrLoad: (_key: string, load: () => Promise<unknown>) => load() } as unknown as JsonCache<never>;

interface Target {
  questions: string;
  base?: string;
  corpus?: string;
}

/** `--questions` pairs with the `--base` or `--corpus` that follows or precedes it, in order. */
function targets(args: string[]): Target[] | string {
  const questions: string[] = [];
  const sources: { base?: string; corpus?: string }[] = [];
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (!['--questions', '--base', '--corpus'].includes(args[i]!)) continue;
    if (!value) return `${args[i]} needs a value`;
    if (args[i] === '--questions') questions.push(value);
    else sources.push(args[i] === '--base' ? { base: value } : { corpus: value });
    i++;
  }
  if (questions.length === 0 || questions.length !== sources.length) return 'give one --questions file for each --base or --corpus';
  return questions.map((file, i) => ({ questions: file, ...sources[i] }));
}

export async function runEval(config: Config, args: string[]): Promise<number> {
  if (args[0] !== 'retrieval') {
    console.error(`bastion eval: expected "retrieval"\n${EVAL_USAGE}`);
    return 2;
  }
  const parsed = targets(args.slice(1));
  if (typeof parsed === 'string') {
    console.error(`bastion eval retrieval: ${parsed}\n${EVAL_USAGE}`);
    return 2;
  }
  const missesIndex = args.indexOf('--misses');
  const missLimit = missesIndex >= 0 ? Number(args[missesIndex + 1]) : DEFAULT_MISSES;
  const refuse = (why: string) => {
    console.error(`bastion eval retrieval: ${why}\n${EVAL_USAGE}`);
    return 2;
  };
  const rerank = await modelOption(args, '--rerank');
  if (typeof rerank === 'string') return refuse(rerank);
  const embed = await modelOption(args, '--embed');
  if (typeof embed === 'string') return refuse(embed);
  if (embed && parsed.some((target) => target.base)) return refuse('--embed works with --corpus only: a base you name keeps its own settings');
  return withDatabase(config, async ({ db }) => {
    const embedder = embed ? openAiProvider(embed) : null;
    const embeddings = embedder ? new ChunkEmbeddings(db, { providerFor: () => Promise.resolve(embedder) } as unknown as ProviderResolver) : null;
    if (embeddings && !(await embeddings.available())) {
      console.error('bastion eval retrieval: --embed needs a database with pgvector (PGlite has it; for PostgreSQL see "Vector search needs pgvector" in docs/deploy.md)');
      return 2;
    }
    const reports: CorpusReport[] = [];
    const inContext: CorpusReport[] = [];
    const reranked: CorpusReport[] = [];
    const hybrid: CorpusReport[] = [];
    const vectorOnly: CorpusReport[] = [];
    const hybridLatencies: number[] = [];
    const outcomes: RerankOutcome[] = [];
    let invalid = false;
    const latencies: number[] = [];
    const widenedLatencies: number[] = [];
    for (const target of parsed) {
      const questions = parseQuestions(await readFile(target.questions, 'utf8'));
      const name = target.corpus ? path.basename(path.resolve(target.corpus)) : path.basename(target.questions).replace(/\.tsv$/u, '');
      const scope = target.corpus ? await ingestCorpus(db, config, target.corpus) : await existingBase(db, target.base!);
      try {
        const unanswerable = await unanswerableQuestions(db, scope, questions);
        if (unanswerable.length > 0) {
          console.error(
            `bastion eval retrieval: ${unanswerable.length} question(s) of ${target.questions} have a phrase that is in no chunk of their document (a wrong document name or phrase):\n${unanswerable.map((q) => `  "${q.question}" → ${q.document}: "${q.phrase}"`).join('\n')}`,
          );
          invalid = true;
        }
        const asked = await ask(db, new KnowledgeRetrieval(db, noCache), scope, questions, latencies, widenedLatencies);
        reports.push(report(name, asked.hits));
        inContext.push(report(name, asked.passages));
        if (rerank) reranked.push(report(name, (await ask(db, rerankingRetrieval(db, rerank, outcomes), scope, questions, [], [])).hits));
        if (embed && embeddings) {
          const target = await embedCorpus(db, embeddings, scope, embed);
          hybrid.push(report(name, (await ask(db, new KnowledgeRetrieval(db, noCache, embeddings), scope, questions, hybridLatencies, [])).hits));
          vectorOnly.push(report(name, await nearestOnly(db, embeddings, scope, target, questions)));
        }
      } finally {
        if (target.corpus) await db.deleteFrom('workspaces').where('id', '=', scope.workspaceId).execute();
      }
    }
    console.log(`\n${table(reports)}\n`);
    console.log(`As answers read them: each hit with ${NEIGHBOURS} chunk on either side, hits that touch merged (document level unchanged but for the merging):\n\n${table(inContext)}\n`);
    const percentiles = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
      return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms`;
    };
    console.log(
      `Search latency over ${latencies.length} questions, one at a time, no cache: ${percentiles(latencies)}; with the neighbours read: ${percentiles(widenedLatencies)} (${config.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}).`,
    );
    if (rerank) printReranked(rerank, reranked, outcomes);
    if (embed) {
      console.log(`\nHybrid: full text fused with vector search by ${embed.model} at ${embed.url} (reciprocal rank fusion):\n\n${table(hybrid)}\n`);
      console.log(`Hybrid search latency, the question's embedding included: ${percentiles(hybridLatencies)}.`);
      console.log(`\nVector search alone by ${embed.model} (the nearest chunks, no full text; how good the model is by itself on these documents):\n\n${table(vectorOnly)}\n`);
    }
    for (const corpus of reports) {
      const lines = misses(corpus, missLimit);
      if (lines.length > 0) console.log(`\nPassages not in the top 5 (${corpus.name}, first ${lines.length}):\n${lines.join('\n')}`);
    }
    return invalid ? 1 : 0;
  });
}

interface Scope {
  workspaceId: string;
  baseId: string;
}

async function existingBase(db: Db, id: string): Promise<Scope> {
  const base = await db.selectFrom('knowledge_bases').select(['id', 'workspace_id']).where('id', '=', id).executeTakeFirst();
  if (!base) throw new Error(`no knowledge base with id ${id}`);
  return { workspaceId: base.workspace_id, baseId: base.id };
}

/** Every file of `dir` (not recursive) as a document of a new base in a new workspace. */
async function ingestCorpus(db: Db, config: Config, dir: string): Promise<Scope> {
  const now = new Date();
  const scope = { workspaceId: randomUUID(), baseId: randomUUID() };
  await db
    .insertInto('workspaces')
    .values({ id: scope.workspaceId, name: `retrieval evaluation ${now.toISOString()}`, personal_owner_id: null, monthly_token_budget: null, created_at: now, updated_at: now })
    .execute();
  await db
    .insertInto('knowledge_bases')
    .values({ id: scope.baseId, workspace_id: scope.workspaceId, name: path.basename(path.resolve(dir)), created_by: null, created_at: now, updated_at: now })
    .execute();
  const names = (await readdir(dir)).sort();
  const started = performance.now();
  let chunks = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    const info = await stat(file);
    if (!info.isFile()) continue;
    const kind = await detectKind({ path: file, extension: path.extname(name).slice(1).toLowerCase() });
    const extracted = await extractText(file, kind, extractLimits(config));
    const pieces = chunkText(extracted.text, CHUNKING).map((c) => ({ position: c.position, heading: c.heading ?? null, text: c.text, start_char: c.startChar, end_char: c.endChar }));
    const document = {
      id: randomUUID(),
      knowledge_base_id: scope.baseId,
      workspace_id: scope.workspaceId,
      filename: name,
      source: 'upload' as const,
      source_url: null,
      declared_type: null,
      kind,
      size_bytes: String(info.size),
      content_hash: createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
      status: 'processing' as const,
      error_code: null,
      error_message: null,
      title: null,
      created_by: null,
      created_at: now,
      updated_at: now,
    };
    await db.insertInto('documents').values(document).execute();
    await saveChunks(db, { ...document, attempts: 1, chunk_count: 0 }, pieces, extracted.title?.slice(0, 300) ?? null, now, randomUUID);
    chunks += pieces.length;
  }
  console.log(`${path.basename(path.resolve(dir))}: ${names.length} documents, ${chunks} chunks, ingested in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // Fresh statistics, as autovacuum would gather on a base that has been in use.
  await sql`analyze chunks`.execute(db);
  return scope;
}

/** The questions whose phrase no chunk of their document contains: they could never be answered. */
async function unanswerableQuestions(db: Db, scope: Scope, questions: EvalQuestion[]): Promise<EvalQuestion[]> {
  const chunks = await db
    .selectFrom('chunks as c')
    .innerJoin('documents as d', 'd.id', 'c.document_id')
    .select(['d.filename', 'c.heading', 'c.text'])
    .where('c.knowledge_base_id', '=', scope.baseId)
    .where('d.filename', 'in', [...new Set(questions.map((q) => q.document)), ''])
    .execute();
  const texts = new Map<string, string[]>();
  for (const chunk of chunks) texts.set(chunk.filename, [...(texts.get(chunk.filename) ?? []), fold(`${chunk.heading ?? ''} ${chunk.text}`)]);
  return questions.filter((q) => !(texts.get(q.document) ?? []).some((text) => text.includes(fold(q.phrase))));
}

/** A model at an OpenAI-compatible URL, named by `--rerank` or `--embed`. */
interface ModelOption {
  url: string;
  model: string;
  apiKey?: string;
}

/** `FLAG URL MODEL [FLAG-key-file FILE]`; the key comes from a file, so it is in no shell history and no process list. */
async function modelOption(args: string[], flag: '--rerank' | '--embed'): Promise<ModelOption | null | string> {
  const at = args.indexOf(flag);
  if (at < 0) return null;
  const [url, model] = [args[at + 1], args[at + 2]];
  if (!url || !model || model.startsWith('--')) return `${flag} needs a URL and a MODEL`;
  if (!URL.canParse(url) || !/^https?:$/u.test(new URL(url).protocol)) return `${flag}: "${url}" is not an http(s) URL`;
  const keyAt = args.indexOf(`${flag}-key-file`);
  if (keyAt < 0) return { url, model };
  const file = args[keyAt + 1];
  if (!file) return `${flag}-key-file needs a FILE`;
  const apiKey = (await readFile(file, 'utf8').catch(() => null))?.trim();
  if (!apiKey) return `${flag}-key-file: cannot read a key from ${file}`;
  return { url, model, apiKey };
}

const openAiProvider = (option: ModelOption) => createProvider('openai', { baseUrl: option.url, ...(option.apiKey ? { apiKey: option.apiKey } : {}), fetch: (url, init) => fetch(url, init) });

/**
 * Names the option's model as the throw-away base's embedding model (through a connection
 * row, as a workspace would) and embeds every chunk with the ingestion pipeline's backfill.
 */
async function embedCorpus(db: Db, embeddings: ChunkEmbeddings, scope: Scope, option: ModelOption): Promise<EmbeddingTarget> {
  const now = new Date();
  const connectionId = randomUUID();
  await db
    .insertInto('provider_connections')
    .values({ id: connectionId, workspace_id: scope.workspaceId, name: 'evaluation', kind: 'openai', base_url: option.url, default_model: null, credentials: null, credential_hint: null, created_at: now, updated_at: now })
    .execute();
  await db.updateTable('knowledge_bases').set({ embedding_connection_id: connectionId, embedding_model: option.model }).where('id', '=', scope.baseId).execute();
  const started = performance.now();
  const count = await backfillEmbeddings(db, embeddings, scope.baseId, systemClock);
  console.log(`  embedded ${count} chunks with ${option.model} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { workspaceId: scope.workspaceId, connectionId, model: option.model };
}

/** Each question judged on the chunks nearest to its embedding alone. */
async function nearestOnly(db: Db, embeddings: ChunkEmbeddings, scope: Scope, target: EmbeddingTarget, questions: EvalQuestion[]) {
  const judged = [];
  for (const question of questions) {
    const [vector] = await embeddings.embed(target, [question.question]);
    const ids = (await embeddings.nearest(scope.workspaceId, [scope.baseId], target.model, vector!, TOP_K)).map((hit) => hit.chunkId);
    const rows = new Map((await chunkHits(db, scope.workspaceId, ids)).map((row) => [row.chunk_id, row]));
    judged.push(
      judge(
        question,
        ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : [])),
      ),
    );
  }
  return judged;
}

/** Searches as the endpoint runs them, then reranked by the option's model; each rerank's cost goes to `outcomes`. */
function rerankingRetrieval(db: Db, option: ModelOption, outcomes: RerankOutcome[]): KnowledgeRetrieval {
  const provider = openAiProvider(option);
  const reranker = new Reranker({ providerFor: () => Promise.resolve(provider) }, { observe: async (_target, outcome) => void outcomes.push(outcome) });
  // Every search reranked by the option's model, whatever the base says.
  return new KnowledgeRetrieval(db, noCache, null, null, reranker, (workspaceId) => ({ workspaceId, connectionId: 'eval', model: option.model }));
}

function printReranked(option: ModelOption, reports: CorpusReport[], outcomes: RerankOutcome[]): void {
  console.log(`\nReranked by ${option.model} at ${option.url}:\n\n${table(reports)}\n`);
  const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  const methods = [...new Set(outcomes.map((o) => o.method))].join(', ') || 'none';
  const tokens = outcomes.reduce((sum, o) => sum + o.inputTokens + o.outputTokens, 0);
  console.log(`Reranking over ${outcomes.length} searches (${methods}): p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, ${tokens} tokens (${outcomes.length > 0 ? Math.round(tokens / outcomes.length) : 0} per search).`);
}

/** Each question searched; judged on the chunks found, and on the passages answers are given (context.ts). */
async function ask(db: Db, retrieval: KnowledgeRetrieval, scope: Scope, questions: EvalQuestion[], latencies: number[], widenedLatencies: number[]) {
  const hits = [];
  const passages = [];
  for (const question of questions) {
    const started = performance.now();
    const found = await retrieval.hits(scope.workspaceId, [scope.baseId], question.question, TOP_K);
    latencies.push(performance.now() - started);
    const widened = await withNeighbours(db, scope.workspaceId, found);
    widenedLatencies.push(performance.now() - started);
    hits.push(judge(question, found));
    passages.push(judge(question, widened));
  }
  return { hits, passages };
}
