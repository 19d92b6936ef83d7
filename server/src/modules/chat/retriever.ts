/**
 * The retrieval port the chat service uses for an agent's knowledge bases. The
 * knowledge module provides the implementation.
 */
import type { Passage } from '../../platform/llm/types.js';

export interface RetrievalQuery {
  workspaceId: string;
  knowledgeBaseIds: string[];
  query: string;
  topK: number;
  minScore: number;
}

export interface Retriever {
  search(query: RetrievalQuery): Promise<Passage[]>;
}
