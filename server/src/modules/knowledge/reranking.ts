/**
 * Optional reranking of a search's best candidates through the knowledge base's provider
 * connection: its rerank endpoint where the server offers one (a cross-encoder: Jina, Cohere,
 * vLLM, llama.cpp, LocalAI, Infinity), otherwise one bounded chat call in which the model
 * scores each candidate 0–10. Either way the step is bounded (RERANK_CANDIDATES passages of
 * at most RERANK_PASSAGE_CHARS), timed and its tokens counted; a failure leaves the
 * full-text / fused order as it was.
 */
import { AppError } from '../../errors.js';
import { HttpProviderError } from '../../platform/llm/http.js';
import { ProviderError, type LlmProvider } from '../../platform/llm/types.js';
import type { ProviderSource } from '../../platform/metrics/providers.js';

/** How many of a search's best candidates are reranked. */
export const RERANK_CANDIDATES = 20;
/** Characters of each candidate sent to the provider. */
export const RERANK_PASSAGE_CHARS = 1_200;
/** The judgement's answer is a short JSON object: this bounds what a chatty model can cost. */
export const JUDGEMENT_MAX_TOKENS = 300;
/** Longest a search waits for its reranking; then it answers in its own order. */
export const RERANK_TIMEOUT_MS = 10_000;
/** How long a connection without a rerank endpoint is not asked again. */
export const NO_ENDPOINT_MEMORY_MS = 10 * 60_000;

export interface RerankTarget {
  workspaceId: string;
  connectionId: string;
  model: string;
}

export type RerankMethod = 'endpoint' | 'judgement';

export interface RerankOutcome {
  /** One score per candidate, in the candidates' order, in [0, 1]. */
  scores: number[];
  method: RerankMethod;
  ms: number;
  inputTokens: number;
  outputTokens: number;
}

/** Tells the rest of the app what a rerank cost (usage against the budget, metrics). */
export type RerankObserver = (target: RerankTarget, outcome: RerankOutcome) => Promise<void>;

/** Status codes with which a server says it has no such endpoint. */
const NO_ENDPOINT = new Set([404, 405, 501]);

export interface RerankerHooks {
  /** False stops the call (the workspace's token budget is spent). */
  allowed?: (workspaceId: string) => Promise<boolean>;
  /** Told what each rerank cost (usage against the budget, metrics). */
  observe?: RerankObserver;
  now?: () => number;
  /** Default RERANK_TIMEOUT_MS. */
  timeoutMs?: number;
}

export class Reranker {
  /** Connection id → time until which its server is known to lack a rerank endpoint. */
  private readonly withoutEndpoint = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly providers: ProviderSource,
    private readonly hooks: RerankerHooks = {},
  ) {
    this.now = hooks.now ?? Date.now;
  }

  /** Scores `passages` for `query`; throws ProviderError when the provider fails, AppError when the budget is spent. */
  async rerank(target: RerankTarget, query: string, passages: string[], caller?: AbortSignal): Promise<RerankOutcome> {
    if (this.hooks.allowed && !(await this.hooks.allowed(target.workspaceId))) {
      throw new AppError('budget_exhausted', 'This workspace used its monthly token budget; results are not reranked until an admin raises it.');
    }
    const deadline = AbortSignal.timeout(this.hooks.timeoutMs ?? RERANK_TIMEOUT_MS);
    const signal = caller ? AbortSignal.any([caller, deadline]) : deadline;
    const started = performance.now();
    const provider = await this.providers.providerFor(target.workspaceId, target.connectionId);
    const documents = passages.map((text) => text.slice(0, RERANK_PASSAGE_CHARS));
    const outcome = (await this.viaEndpoint(provider, target, query, documents, signal)) ?? (await judge(provider, target.model, query, documents, signal));
    const result = { ...outcome, ms: Math.round(performance.now() - started) };
    await this.hooks.observe?.(target, result);
    return result;
  }

  private async viaEndpoint(provider: LlmProvider, target: RerankTarget, query: string, documents: string[], signal: AbortSignal | undefined): Promise<Omit<RerankOutcome, 'ms'> | null> {
    if (!provider.rerank || (this.withoutEndpoint.get(target.connectionId) ?? 0) > this.now()) return null;
    try {
      const { scores, inputTokens } = await provider.rerank({ model: target.model, query, documents, ...(signal ? { signal } : {}) });
      return { scores: squash(scores), method: 'endpoint', inputTokens, outputTokens: 0 };
    } catch (error) {
      if (!(error instanceof HttpProviderError && NO_ENDPOINT.has(error.status))) throw error;
      this.withoutEndpoint.set(target.connectionId, this.now() + NO_ENDPOINT_MEMORY_MS);
      return null;
    }
  }
}

/**
 * Rerank endpoints answer in different ranges (a probability, a logit): a logistic squash of
 * anything outside [0, 1] keeps the order and gives relative scores a common scale.
 */
function squash(scores: number[]): number[] {
  return scores.every((s) => s >= 0 && s <= 1) ? scores : scores.map((s) => 1 / (1 + Math.exp(-s)));
}

export const JUDGEMENT_SYSTEM_PROMPT = [
  'You rate how well each numbered passage answers a question, for a search engine.',
  'Score each passage from 0 (unrelated) to 10 (answers the question directly).',
  'Reply with JSON only, no prose: {"scores":[s1,s2,...]} with one integer per passage, in the passages\' order.',
].join(' ');

/** The user message of the judgement: the question, then each passage with its number. */
export function judgementPrompt(query: string, documents: string[]): string {
  const passages = documents.map((text, i) => `[${i + 1}] ${text.replace(/\s+/g, ' ').trim()}`);
  return `Question: ${query.replace(/\s+/g, ' ').trim()}\n\nPassages:\n${passages.join('\n\n')}`;
}

/** A bounded chat call in which the model scores the passages; an unusable answer is a ProviderError. */
async function judge(provider: LlmProvider, model: string, query: string, documents: string[], signal: AbortSignal | undefined): Promise<Omit<RerankOutcome, 'ms'>> {
  let text = '';
  let inputTokens = 0;
  let outputTokens = 0;
  const messages = [
    { role: 'system' as const, content: JUDGEMENT_SYSTEM_PROMPT },
    { role: 'user' as const, content: judgementPrompt(query, documents) },
  ];
  for await (const event of provider.stream({ model, messages, temperature: 0, maxTokens: JUDGEMENT_MAX_TOKENS, ...(signal ? { signal } : {}) })) {
    if (event.type === 'delta') text += event.text;
    else if (event.type === 'usage') ({ inputTokens, outputTokens } = event);
  }
  return { scores: judgementScores(text, documents.length).map((s) => s / 10), method: 'judgement', inputTokens, outputTokens };
}

/**
 * The scores out of the model's answer: the first JSON object with a `scores` list, or a bare
 * list, of `expected` numbers (clamped to 0–10). Anything else throws: a model that cannot
 * follow the format must not reorder results at random.
 */
export function judgementScores(answer: string, expected: number): number[] {
  const candidates = [/\{[\s\S]*\}/.exec(answer)?.[0], /\[[\s\S]*\]/.exec(answer)?.[0]];
  for (const candidate of candidates) {
    if (!candidate) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { scores?: unknown } | null)?.scores;
    if (Array.isArray(list) && list.length === expected && list.every((s) => typeof s === 'number' && Number.isFinite(s))) {
      return (list as number[]).map((s) => Math.min(10, Math.max(0, s)));
    }
  }
  throw new ProviderError('provider_protocol_error', `The model did not answer the relevance judgement with ${expected} scores in JSON.`);
}
