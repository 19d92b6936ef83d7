/**
 * The model turns of one answer, shared by stored conversations (service.ts) and stateless
 * completions (completion.ts), so both run the same path: the passages retrieved from the
 * agent's knowledge for the question, the workspace's provider, then the agent loop —
 * provider calls through the response cache, the agent's tools, the budget checked before
 * each turn and the usage recorded after it.
 */
import { AppError } from '../../errors.js';
import type { ChatEvent, ChatRequest, LlmProvider, Passage } from '../../platform/llm/types.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import type { JsonCache } from '../../platform/store/cache.js';
import type { Agent } from '../agents/service.js';
import type { ProviderService } from '../providers/service.js';
import type { WorkspaceContext } from '../workspaces/service.js';
import type { UsageService } from '../workspaces/usage.js';
import { runAgentLoop, type LoopEvent, type LoopResult } from './agent-loop.js';
import { buildMessages, newBoundary, type HistoryMessage } from './prompt.js';
import { cachedStream, type CachedTurn } from './response-cache.js';
import type { Retriever } from './retriever.js';

export interface TurnDeps {
  providers: ProviderService;
  usage: UsageService;
  retriever: Retriever;
  /** For the fetch_url tool. */
  outbound: OutboundHttp<'tools'>;
  /** null: the response cache is off. */
  responseCache: JsonCache<CachedTurn> | null;
}

/** What the turns need besides the history, fetched while the caller does its own writes. */
export interface Prepared {
  passages: Passage[];
  provider: LlmProvider;
  /** What this answer may search: the agent's knowledge bases and the conversation's attachments. */
  knowledgeBaseIds: string[];
}

/**
 * The passages for `question` (when the agent has knowledge bases, or the conversation
 * attachments: `attachmentBaseIds`) and the agent's provider.
 */
export async function prepareTurns(deps: TurnDeps, context: WorkspaceContext, agent: Agent, question: string, attachmentBaseIds: Promise<string[]> = Promise.resolve([])): Promise<Prepared> {
  const { config } = agent;
  const baseIds = attachmentBaseIds.then((extra) => [...config.knowledgeBaseIds, ...extra]);
  const passages = baseIds.then((ids) => (ids.length > 0 ? retrieve(deps, context, agent, ids, question) : []));
  const [found, provider, knowledgeBaseIds] = await Promise.all([passages, deps.providers.providerFor(context.workspaceId, config.providerConnectionId), baseIds]);
  return { passages: found, provider, knowledgeBaseIds };
}

async function retrieve(deps: TurnDeps, context: WorkspaceContext, agent: Agent, knowledgeBaseIds: string[], question: string): Promise<Passage[]> {
  const found = await deps.retriever.search({ workspaceId: context.workspaceId, knowledgeBaseIds, query: question.slice(0, 1_000), ...agent.config.retrieval });
  return found.map((passage, index) => ({ ...passage, id: String(index + 1) }));
}

export interface TurnsInput {
  context: WorkspaceContext;
  agent: Agent;
  prepared: Promise<Prepared>;
  /** Oldest first, ending with the question. */
  history: HistoryMessage[];
  signal: AbortSignal;
  emit: (event: LoopEvent) => void;
  recordUsage: (inputTokens: number, outputTokens: number) => Promise<void>;
}

/** Runs the agent loop; provider failures and limits come back in the result, anything else throws. */
export async function runTurns(deps: TurnDeps, input: TurnsInput): Promise<LoopResult> {
  const { context, agent } = input;
  const { config } = agent;
  const { passages, provider, knowledgeBaseIds } = await input.prepared;
  const boundary = newBoundary();
  const cache = deps.responseCache;
  const stream =
    cache && config.cacheResponses && config.temperature === 0
      ? (request: ChatRequest): AsyncIterable<ChatEvent> => cachedStream(provider, cache, { workspaceId: context.workspaceId, connectionId: config.providerConnectionId, boundary }, request)
      : (request: ChatRequest) => provider.stream(request);
  return runAgentLoop({
    config,
    messages: buildMessages(config, boundary, input.history, passages),
    passages,
    boundary,
    stream,
    tools: { workspaceId: context.workspaceId, knowledgeBaseIds, retriever: deps.retriever, outbound: deps.outbound },
    signal: input.signal,
    emit: input.emit,
    beforeStep: () => deps.usage.assertWithinBudget(context),
    recordUsage: input.recordUsage,
  });
}

/**
 * The result of turns that threw (the loop keeps provider failures and limits itself): what
 * the reader already saw is kept, so a failure after some text is an incomplete answer.
 * Errors other than AppError are reported as `internal_error`; the caller logs them.
 */
export function failedTurns(error: unknown, text: string): LoopResult {
  const failure = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'internal_error', message: 'The answer failed; try again.' };
  return { text, citations: [], toolCalls: [], inputTokens: 0, outputTokens: 0, status: text ? 'incomplete' : 'failed', stopReason: failure.code, error: failure };
}
