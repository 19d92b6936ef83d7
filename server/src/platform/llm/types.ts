/**
 * The provider contract: one streaming chat call, normalised across the OpenAI
 * chat-completions wire protocol, the Anthropic Messages protocol and the built-in
 * offline `extractive` provider. The chat service speaks only these types.
 */

export interface ToolCall {
  /** Provider-assigned id, echoed back in the tool result message. */
  id: string;
  name: string;
  /** JSON text of the arguments exactly as the model produced it (may be invalid JSON). */
  arguments: string;
}

export type ChatMessage = { role: 'system'; content: string } | { role: 'user'; content: string } | { role: 'assistant'; content: string; toolCalls?: ToolCall[] } | { role: 'tool'; toolCallId: string; name: string; content: string };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

/** A retrieved passage the answer may cite; `id` is the citation marker, e.g. "1". */
export interface Passage {
  id: string;
  source: string;
  text: string;
  score: number;
  /** The knowledge-base chunk it was taken from; absent on answers stored before it was recorded. */
  origin?: PassageOrigin;
}

/** Where a passage comes from: kept with an answer's citations (conversation exports name it). */
export interface PassageOrigin {
  documentId: string;
  knowledgeBaseId: string;
  /** The document's file name when the answer was given. */
  filename: string;
  heading: string | null;
  /** 1-based position of the chunk in the document. */
  chunk: number;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  temperature?: number;
  maxTokens?: number;
  /** Passages retrieved for this turn; LLM providers see them in the messages, `extractive` answers from them. */
  passages?: Passage[];
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'error';

export type ChatEvent = { type: 'delta'; text: string } | { type: 'tool_call'; call: ToolCall } | { type: 'usage'; inputTokens: number; outputTokens: number } | { type: 'done'; finishReason: FinishReason };

export interface LlmProvider {
  readonly kind: 'openai' | 'anthropic' | 'extractive';
  /**
   * Streams one model turn. Ends with exactly one `done` event; `usage` comes before it
   * when the provider reports it. Throws ProviderError on HTTP or protocol failures.
   */
  stream(request: ChatRequest): AsyncIterable<ChatEvent>;
  /** Cheap call proving the credentials and endpoint work (lists models or equivalent). */
  test(signal?: AbortSignal): Promise<{ ok: true; models?: string[] }>;
  /** Embedding vectors, one per input in order; absent on providers without embeddings. */
  embed?(request: EmbedRequest): Promise<number[][]>;
  /**
   * Relevance of each document to the query from a dedicated rerank endpoint (a cross-encoder);
   * absent on providers whose protocol has none. Throws HttpProviderError 404/405/501 when
   * this server does not offer one.
   */
  rerank?(request: RerankRequest): Promise<RerankResult>;
}

export interface RerankRequest {
  model: string;
  query: string;
  documents: string[];
  signal?: AbortSignal;
}

export interface RerankResult {
  /** One score per document, in the documents' order; higher is more relevant. */
  scores: number[];
  /** Tokens the provider billed, when it says (rerank endpoints bill input only). */
  inputTokens: number;
}

export interface EmbedRequest {
  model: string;
  input: string[];
  signal?: AbortSignal;
}

/** Most inputs one embeddings call carries (OpenAI accepts 2,048; smaller batches fail less). */
export const EMBED_BATCH = 64;

export type ProviderErrorCode =
  | 'provider_unavailable' // network error, 5xx after retries, circuit open
  | 'provider_rate_limited' // 429 after retries
  | 'provider_auth_failed' // 401/403 from the provider
  | 'provider_bad_request' // other 4xx
  | 'provider_timeout'
  | 'provider_protocol_error' // malformed stream or body
  | 'provider_blocked'; // the SSRF guard refused the address

/** A provider failure; `message` is safe to show (never contains credentials or raw bodies). */
export class ProviderError extends Error {
  constructor(
    readonly code: ProviderErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
