/** LLM provider connections: the wire protocols a stored connection speaks. */

export const PROVIDER_KINDS = ['openai', 'anthropic'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
