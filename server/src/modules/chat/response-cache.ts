/**
 * Cached model turns for deterministic requests (temperature 0): same workspace,
 * connection, model, messages, tools and limits → the recorded turn is replayed
 * without calling the provider (and without spending budget). Keys are SHA-256 of
 * the request; the per-answer delimiter boundary is replaced so it does not defeat
 * the cache.
 */
import { createHash } from 'node:crypto';
import type { ChatEvent, ChatRequest, FinishReason, LlmProvider, ToolCall } from '../../platform/llm/types.js';
import type { JsonCache } from '../../platform/store/cache.js';

export interface CachedTurn {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
}

export interface CacheScope {
  workspaceId: string;
  connectionId: string | null;
  boundary: string;
}

export function cacheKey(scope: CacheScope, request: ChatRequest): string {
  const { signal: _signal, ...rest } = request;
  const canonical = JSON.stringify({ v: 1, workspace: scope.workspaceId, connection: scope.connectionId, request: rest }).replaceAll(scope.boundary, '§');
  return createHash('sha256').update(canonical).digest('hex');
}

/** A provider stream that answers from the cache when it can and fills it when it cannot. */
export async function* cachedStream(provider: LlmProvider, cache: JsonCache<CachedTurn>, scope: CacheScope, request: ChatRequest): AsyncIterable<ChatEvent> {
  const key = cacheKey(scope, request);
  const hit = await cache.get(key);
  if (hit) {
    for (const piece of hit.text.match(/\S+\s*|\s+/g) ?? []) yield { type: 'delta', text: piece };
    for (const call of hit.toolCalls) yield { type: 'tool_call', call };
    yield { type: 'done', finishReason: hit.finishReason };
    return;
  }
  const turn: CachedTurn = { text: '', toolCalls: [], finishReason: 'stop' };
  for await (const event of provider.stream(request)) {
    if (event.type === 'delta') turn.text += event.text;
    else if (event.type === 'tool_call') turn.toolCalls.push(event.call);
    else if (event.type === 'done') turn.finishReason = event.finishReason;
    yield event;
  }
  if (turn.finishReason !== 'error') await cache.set(key, turn);
}
