/**
 * Finding one's conversations by words in their titles and messages: the query's words are
 * stemmed and turned into the workspace's blind terms (search-index.ts), the index ranks
 * the owner's live conversations, and only the best message of each result is opened, to
 * cut its snippet. Nothing of the query is stored or logged.
 */
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceContext } from '../workspaces/service.js';
import { openConversation, type Conversation } from './conversation.js';
import * as repo from './repo.js';
import { MessageSealing } from './sealing.js';
import { SearchTerms } from './search-index.js';
import * as searchRepo from './search-repo.js';
import { snippetOf, wordsOf, type Snippet } from './search-text.js';

/** Distinct words of a query that are searched for; more are ignored (and said so). */
export const QUERY_WORDS_MAX = 10;
export const QUERY_MAX_CHARS = 200;

export interface SearchHit {
  conversation: Conversation;
  /** Where the snippet comes from: a message (its id and role) or the title (null). */
  messageId: string | null;
  role: 'user' | 'assistant' | null;
  messageCreatedAt: Date | null;
  snippet: Snippet;
  /** How many of the searched words the conversation holds. */
  matched: number;
  score: number;
}

export interface SearchResult {
  /** The words searched for, in their search form (after stemming); stopwords are left out. */
  words: string[];
  hits: SearchHit[];
}

export class ConversationSearch {
  private readonly sealing: MessageSealing;
  private readonly terms: SearchTerms;

  constructor(private readonly deps: { db: Db; encryptor: Encryptor; clock: Clock }) {
    this.sealing = new MessageSealing(deps.encryptor);
    this.terms = new SearchTerms(deps.encryptor);
  }

  async search(context: WorkspaceContext, query: string, limit: number): Promise<SearchResult> {
    const words = queryWords(query);
    if (words.length === 0) return { words, hits: [] };
    const hash = await this.terms.of(context.workspaceId);
    const owner = { workspaceId: context.workspaceId, userId: context.userId };
    const ranked = await searchRepo.rankConversations(this.deps.db, owner, [...new Set(words.map(hash))], limit);
    if (ranked.length === 0) return { words, hits: [] };
    const [conversations, messages] = await Promise.all([
      this.deps.db
        .selectFrom('conversations')
        .select(repo.CONVERSATION_COLUMNS)
        .where('workspace_id', '=', owner.workspaceId)
        .where('user_id', '=', owner.userId)
        .where(
          'id',
          'in',
          ranked.map((r) => r.conversation_id),
        )
        .execute(),
      this.messages(
        owner.workspaceId,
        ranked.flatMap((r) => (r.message_id ? [r.message_id] : [])),
      ),
    ]);
    const rows = new Map(conversations.map((row) => [row.id, row]));
    const stems = new Set(words);
    const hits = await Promise.all(
      ranked.map(async (r): Promise<SearchHit | null> => {
        const row = rows.get(r.conversation_id);
        if (!row) return null; // purged between the two reads
        const conversation = await openConversation(this.sealing, row);
        const message = r.message_id ? messages.get(r.message_id) : undefined;
        const text = message ? (await this.sealing.openContent(message)).text : (conversation.title ?? '');
        return {
          conversation,
          messageId: message?.id ?? null,
          role: message?.role ?? null,
          messageCreatedAt: message?.created_at ?? null,
          snippet: snippetOf(text, stems),
          matched: r.matched,
          score: r.score,
        };
      }),
    );
    return { words, hits: hits.filter((hit): hit is SearchHit => hit !== null) };
  }

  private async messages(workspaceId: string, ids: string[]) {
    if (ids.length === 0) return new Map<string, never>();
    const rows = await this.deps.db.selectFrom('messages').select(['id', 'role', 'content', 'created_at']).where('workspace_id', '=', workspaceId).where('id', 'in', ids).execute();
    return new Map(rows.map((row) => [row.id, row]));
  }
}

/** The distinct search forms of a query's words, in order, at most QUERY_WORDS_MAX. */
export function queryWords(query: string): string[] {
  return [...new Set(wordsOf(query).map((word) => word.stem))].slice(0, QUERY_WORDS_MAX);
}
