/**
 * Tools an agent may let the model call. What may run is decided by the agent's
 * configuration, never by the model: a call to a tool the agent does not enable is
 * refused. Results are untrusted data, bounded in size, and delimited as such in the
 * prompt (see prompt.ts).
 */
import { htmlToText } from '../../platform/documents/html.js';
import type { Passage, ToolCall, ToolSpec } from '../../platform/llm/types.js';
import { NetError } from '../../platform/net/errors.js';
import { readTextLimited, type OutboundHttp } from '../../platform/net/outbound.js';
import type { AgentConfig, ToolName } from '../agents/config.js';
import { calculate, CalculatorError } from './calculator.js';
import type { Retriever } from './retriever.js';

export const TOOL_SPECS: Record<ToolName, ToolSpec> = {
  search_knowledge: {
    name: 'search_knowledge',
    description: 'Search the knowledge bases attached to this agent. Returns numbered passages; cite them as [n].',
    parameters: { type: 'object', properties: { query: { type: 'string', description: 'What to look for' } }, required: ['query'], additionalProperties: false },
  },
  fetch_url: {
    name: 'fetch_url',
    description: 'Fetch a public web page or text document over HTTP(S) and return its text (truncated).',
    parameters: { type: 'object', properties: { url: { type: 'string', description: 'http(s) URL' } }, required: ['url'], additionalProperties: false },
  },
  calculator: {
    name: 'calculator',
    description: 'Evaluate an arithmetic expression: + - * / % ^, parentheses, sqrt, abs, round, floor, ceil, ln, log10, exp, sin, cos, tan, min, max, pi, e.',
    parameters: { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'], additionalProperties: false },
  },
};

const FETCH_MAX_BYTES = 512 * 1024;
const FETCH_MAX_CHARS = 12_000;
const FETCH_TIMEOUT_MS = 10_000;
const TEXT_TYPES = /^(text\/|application\/(json|xml|xhtml\+xml|ld\+json)|[a-z]+\/[a-z.+-]*\+xml)/i;

export interface ToolOutcome {
  ok: boolean;
  /** What the model sees (untrusted when it came from outside). */
  content: string;
  passages?: Passage[];
}

export interface ToolContext {
  workspaceId: string;
  /** What search_knowledge searches: the agent's knowledge bases and the conversation's attachments. */
  knowledgeBaseIds: string[];
  config: AgentConfig;
  retriever: Retriever;
  outbound: OutboundHttp<'tools'>;
  signal: AbortSignal;
  /** Citation numbers already used in this answer, so new passages get fresh ones. */
  nextCitation: () => number;
}

function parseArguments(call: ToolCall): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(call.arguments || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Runs one tool call; never throws for the model's mistakes, only answers them. */
export async function runTool(call: ToolCall, context: ToolContext): Promise<ToolOutcome> {
  if (!(context.config.tools as string[]).includes(call.name)) {
    return { ok: false, content: `The tool "${call.name.slice(0, 60)}" is not available to this agent.` };
  }
  const args = parseArguments(call);
  if (!args) return { ok: false, content: 'The arguments were not a JSON object.' };
  const text = (name: string) => (typeof args[name] === 'string' ? (args[name] as string) : '');
  switch (call.name as ToolName) {
    case 'calculator':
      try {
        return { ok: true, content: String(calculate(text('expression'))) };
      } catch (error) {
        if (error instanceof CalculatorError) return { ok: false, content: error.message };
        throw error;
      }
    case 'search_knowledge': {
      const query = text('query').slice(0, 1_000);
      if (!query) return { ok: false, content: 'Give a query.' };
      const found = await context.retriever.search({ workspaceId: context.workspaceId, knowledgeBaseIds: context.knowledgeBaseIds, query, ...context.config.retrieval });
      const passages = found.map((p) => ({ ...p, id: String(context.nextCitation()) }));
      if (passages.length === 0) return { ok: true, content: 'No passages found.', passages };
      return { ok: true, content: passages.map((p) => `[${p.id}] (${p.source})\n${p.text}`).join('\n\n'), passages };
    }
    case 'fetch_url':
      return fetchUrl(text('url'), context);
  }
}

async function fetchUrl(url: string, context: ToolContext): Promise<ToolOutcome> {
  if (!url) return { ok: false, content: 'Give a url.' };
  try {
    const response = await context.outbound.fetchFollowing(url, { method: 'GET', headers: { accept: 'text/html, text/plain, application/json;q=0.9, */*;q=0.1' }, timeoutMs: FETCH_TIMEOUT_MS, signal: context.signal, maxRedirects: 3 });
    const type = response.headers.get('content-type') ?? '';
    if (!TEXT_TYPES.test(type)) {
      await response.body?.cancel();
      return { ok: false, content: `The URL returned ${type || 'an unknown type'}, not text.` };
    }
    const body = await readTextLimited(response, FETCH_MAX_BYTES);
    const text = /html/i.test(type) ? htmlToText(body).text : body;
    const truncated = text.length > FETCH_MAX_CHARS ? `${text.slice(0, FETCH_MAX_CHARS)}\n[truncated]` : text;
    return { ok: response.ok, content: `HTTP ${response.status}\n${truncated}` };
  } catch (error) {
    if (error instanceof NetError) {
      if (error.code === 'aborted') throw error;
      return { ok: false, content: `Could not fetch the URL: ${error.message}` };
    }
    throw error;
  }
}
