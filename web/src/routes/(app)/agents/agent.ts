/** The agent configuration (aliases of the OpenAPI document's types) and its defaults. */
import type { ApiResponse } from '$lib/api/types';

export const TOOLS = [
  { name: 'search_knowledge', label: 'Search knowledge', help: 'Look things up in the attached knowledge bases while answering' },
  { name: 'fetch_url', label: 'Fetch web pages', help: 'Read a public web page given its address' },
  { name: 'calculator', label: 'Calculator', help: 'Exact arithmetic' },
] as const satisfies readonly { name: AgentConfig['tools'][number]; label: string; help: string }[];

export type ToolName = (typeof TOOLS)[number]['name'];

export type Agent = ApiResponse<'/api/v1/agents/{id}'>;

export type AgentConfig = Agent['config'];

export type AgentVersion = ApiResponse<'/api/v1/agents/{id}/versions'>['versions'][number];

export function defaultConfig(): AgentConfig {
  return {
    name: '',
    description: '',
    providerConnectionId: null,
    model: 'extractive',
    systemPrompt: 'You are a helpful assistant. Answer from the provided sources when there are any and cite them.',
    temperature: 0.2,
    maxOutputTokens: 1024,
    knowledgeBaseIds: [],
    tools: [],
    retrieval: { topK: 5, minScore: 0.2 },
    limits: { maxSteps: 5, maxWallTimeMs: 120_000, maxTokens: 16_000 },
    allowModelOverride: false,
    allowedModels: [],
    cacheResponses: true,
    callbackUrl: null,
  };
}

/** The fields that differ from `before` (PATCH creates a version only for a real change). */
export function changes(before: AgentConfig, after: AgentConfig): Partial<AgentConfig> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof AgentConfig)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) patch[key] = after[key];
  }
  return patch as Partial<AgentConfig>;
}

const FIELD_NAMES: Record<keyof AgentConfig, string> = {
  name: 'name',
  description: 'description',
  providerConnectionId: 'provider connection',
  model: 'model',
  systemPrompt: 'system prompt',
  temperature: 'temperature',
  maxOutputTokens: 'max output tokens',
  knowledgeBaseIds: 'knowledge bases',
  tools: 'tools',
  retrieval: 'passage settings',
  limits: 'answer limits',
  allowModelOverride: 'model picking',
  allowedModels: 'models members may pick',
  cacheResponses: 'answer reuse',
  callbackUrl: 'callback URL',
};

/** What a version changed from the one before it, in words ("" when the one before is not at hand). */
export function describeChanges(previous: AgentConfig | undefined, current: AgentConfig, number: number): string {
  if (number === 1) return 'First version';
  if (!previous) return '';
  const fields = Object.keys(changes(previous, current)).map((key) => FIELD_NAMES[key as keyof AgentConfig] ?? key);
  return fields.length === 0 ? 'No change' : `Changed: ${fields.join(', ')}`;
}
