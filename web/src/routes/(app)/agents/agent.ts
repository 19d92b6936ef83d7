/** The agent configuration (server/src/modules/agents/config.ts) and its defaults. */
export const TOOLS = [
  { name: 'search_knowledge', label: 'Search knowledge', help: 'Look things up in the attached knowledge bases while answering' },
  { name: 'fetch_url', label: 'Fetch web pages', help: 'Read a public web page given its address' },
  { name: 'calculator', label: 'Calculator', help: 'Exact arithmetic' },
] as const;

export type ToolName = (typeof TOOLS)[number]['name'];

export interface AgentConfig {
  name: string;
  description: string;
  providerConnectionId: string | null;
  model: string;
  systemPrompt: string;
  temperature: number;
  maxOutputTokens: number;
  knowledgeBaseIds: string[];
  tools: ToolName[];
  retrieval: { topK: number; minScore: number };
  limits: { maxSteps: number; maxWallTimeMs: number; maxTokens: number };
  cacheResponses: boolean;
  callbackUrl: string | null;
}

export interface Agent {
  id: string;
  version: number;
  config: AgentConfig;
  createdAt: string;
  updatedAt: string;
}

export interface AgentVersion {
  version: number;
  config: AgentConfig;
  createdBy: string | null;
  createdAt: string;
}

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
