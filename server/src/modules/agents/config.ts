/** An agent's configuration: one schema validates input, types the service and documents the API. */
import { z } from 'zod';
import { AppError, withoutClientText } from '../../errors.js';

export const TOOLS = ['search_knowledge', 'fetch_url', 'calculator'] as const;
export type ToolName = (typeof TOOLS)[number];

export const Retrieval = z.strictObject({
  topK: z.number().int().min(1).max(50).default(5).describe('Passages retrieved per query'),
  minScore: z.number().min(0).max(1).default(0.2).describe('Passages scoring below are dropped'),
});

/** The longest an answer may take (maxWallTimeMs), tools included: what a route waiting for one whole answer must allow. */
export const MAX_WALL_TIME_MS = 600_000;

export const Limits = z.strictObject({
  maxSteps: z.number().int().min(1).max(20).default(5).describe('Model turns per answer (each tool round is one)'),
  maxWallTimeMs: z.number().int().min(1_000).max(MAX_WALL_TIME_MS).default(120_000).describe('Time per answer, tools included'),
  maxTokens: z.number().int().min(1).max(1_000_000).default(16_000).describe('Input + output tokens per answer, all steps'),
});

export const AgentConfig = z.strictObject({
  name: z.string().trim().min(1).max(100),
  description: z.string().max(1_000).default(''),
  providerConnectionId: z.uuid().nullable().default(null).describe('null: the built-in extractive provider (no network, no key)'),
  model: z.string().trim().min(1).max(200).default('extractive').describe('Model name at the provider, e.g. gpt-4o-mini, claude-sonnet-4-5, llama3.1'),
  systemPrompt: z.string().max(20_000).default('You are a helpful assistant. Answer from the provided sources when there are any and cite them.'),
  temperature: z.number().min(0).max(2).default(0.2),
  maxOutputTokens: z.number().int().min(1).max(64_000).default(1_024),
  knowledgeBaseIds: z.array(z.uuid()).max(20).default([]),
  tools: z
    .array(z.enum(TOOLS))
    .max(TOOLS.length)
    .refine((tools) => new Set(tools).size === tools.length, 'each tool once')
    .default([])
    .describe('Tools the model may call; anything else it asks for is refused'),
  retrieval: Retrieval.default({ topK: 5, minScore: 0.2 }),
  limits: Limits.default({ maxSteps: 5, maxWallTimeMs: 120_000, maxTokens: 16_000 }),
  allowModelOverride: z.boolean().default(false).describe('Members may pick another model of the connection for their message (GET /agents/:id/models lists the choices)'),
  allowedModels: z
    .array(z.string().trim().min(1).max(200))
    .max(100)
    .refine((models) => new Set(models).size === models.length, 'each model once')
    .default([])
    .describe('With allowModelOverride: the models members may pick; empty: any model the connection lists'),
  cacheResponses: z.boolean().default(true).describe('Reuse answers to identical deterministic requests (temperature 0)'),
  callbackUrl: z
    .url({ protocol: /^https?$/ })
    .max(2_000)
    .nullable()
    .default(null)
    .describe('Where results of webhook-triggered runs are POSTed, signed with the agent’s webhook secret (Bastion-Signature)'),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

type Optional<S extends z.ZodRawShape> = { [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer T> ? T : S[K]> };

/** Each field optional and without its default: a field left out of a change keeps its value. */
function optionalWithoutDefaults<S extends z.ZodRawShape>(shape: S): Optional<S> {
  const optional: Record<string, z.ZodOptional> = {};
  for (const [key, field] of Object.entries(shape)) optional[key] = ((field instanceof z.ZodDefault ? field.unwrap() : field) as z.ZodType).optional();
  return optional as Optional<S>;
}

/** PATCH: any subset of the fields of AgentConfig; the result is validated as a whole (applyPatch). */
export const AgentPatch = z.strictObject({
  ...optionalWithoutDefaults(AgentConfig.omit({ retrieval: true, limits: true }).shape),
  retrieval: Retrieval.partial().optional(),
  limits: Limits.partial().optional(),
});
export type AgentPatch = z.infer<typeof AgentPatch>;

export function applyPatch(current: AgentConfig, patch: AgentPatch): AgentConfig {
  const merged = { ...current, ...patch, retrieval: { ...current.retrieval, ...patch.retrieval }, limits: { ...current.limits, ...patch.limits } };
  const parsed = AgentConfig.safeParse(merged);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: withoutClientText(issue.message) }));
    throw new AppError('validation_failed', 'The changed configuration is not valid.', details);
  }
  return parsed.data;
}
