/**
 * GET /conversations/search: your conversations in this workspace that hold the words asked
 * for, ranked, each with the snippet that matches. Like every conversation route it only
 * ever reaches the caller's own conversations.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MESSAGE_ROLES } from '../../domain/chat.js';
import { QUERY_MAX_CHARS, QUERY_WORDS_MAX, type ConversationSearch } from './search.js';
import { ConversationView, conversationView } from './views.js';

const SearchHitView = z.object({
  conversation: ConversationView,
  match: z.object({
    messageId: z.uuid().nullable().describe('The message the snippet comes from; null: the title matched best'),
    role: z.enum(MESSAGE_ROLES).nullable(),
    createdAt: z.string().nullable(),
    snippet: z.string().describe('Up to about 200 characters of plain text around the words found (not HTML)'),
    highlights: z.array(z.object({ start: z.number().int(), end: z.number().int() })).describe('The words found in the snippet: UTF-16 offsets, end exclusive'),
  }),
  matched: z.number().int().describe('How many of the searched words the conversation holds'),
  score: z.number().describe('Relevance (BM25 over titles and messages); only the order is meaningful'),
});

export function searchRoutes(search: ConversationSearch): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/conversations/search',
      {
        config: { access: { scope: 'conversations:read' as const } },
        schema: {
          tags: ['conversations'],
          summary: 'Find your conversations by words in their titles and messages',
          description:
            `Whole words, in any form ("running" finds "runs"); the commonest English words are ignored. Conversations holding more of the words come first, then the most relevant, then the most recent. ` +
            `Archived conversations are included (conversation.archived); deleted ones are not. At most ${QUERY_WORDS_MAX} distinct words are searched. A message is found a moment after it is written (the index is built in the background).`,
          querystring: z.strictObject({
            q: z
              .string({ error: 'type at least one word to search for (q)' })
              .trim()
              .min(1, 'type at least one word to search for (q)')
              .max(QUERY_MAX_CHARS, `a search has at most ${QUERY_MAX_CHARS} characters`)
              .describe('The words to find'),
            limit: z.coerce.number().int().min(1).max(50).default(20),
          }),
          response: { 200: z.object({ words: z.array(z.string()).describe('The words searched for, in their search form (stemmed, stopwords left out)'), results: z.array(SearchHitView) }) },
        },
      },
      async (request) => {
        const { q, limit } = request.query;
        const found = await search.search(await request.workspace('chat.use'), q, limit);
        return {
          words: found.words,
          results: found.hits.map((hit) => ({
            conversation: conversationView(hit.conversation),
            match: { messageId: hit.messageId, role: hit.role, createdAt: hit.messageCreatedAt?.toISOString() ?? null, snippet: hit.snippet.text, highlights: hit.snippet.highlights },
            matched: hit.matched,
            score: hit.score,
          })),
        };
      },
    );
  };
}
