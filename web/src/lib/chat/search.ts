/**
 * Finding conversations by the words in their messages (GET /conversations/search): the
 * result shapes, and the snippet split into plain and emphasised parts. The snippet is the
 * user's text: it is only ever rendered as text, never as HTML.
 */
import type { ApiResponse } from '$lib/api/types';

export type SearchResponse = ApiResponse<'/api/v1/conversations/search'>;
export type SearchHit = SearchResponse['results'][number];

/** Shortest query sent to the server; shorter ones only filter the titles. */
export const SEARCH_MIN_CHARS = 2;

export interface SnippetPart {
  text: string;
  mark: boolean;
}

/**
 * The snippet as runs of plain and emphasised text. Highlights out of range, empty,
 * overlapping or out of order are clamped or skipped, so a bad offset never loses text.
 */
export function snippetParts(snippet: string, highlights: readonly { start: number; end: number }[]): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let at = 0;
  for (const h of [...highlights].sort((a, b) => a.start - b.start)) {
    const start = Math.max(at, Math.min(snippet.length, Math.trunc(h.start)));
    const end = Math.max(start, Math.min(snippet.length, Math.trunc(h.end)));
    if (!Number.isFinite(start) || !Number.isFinite(end) || end === start) continue;
    if (start > at) parts.push({ text: snippet.slice(at, start), mark: false });
    parts.push({ text: snippet.slice(start, end), mark: true });
    at = end;
  }
  if (at < snippet.length) parts.push({ text: snippet.slice(at), mark: false });
  return parts;
}

/** Where a result leads: the conversation, at the message that matched. */
export function hitHref(hit: SearchHit): string {
  return `/chat/${hit.conversation.id}${hit.match.messageId ? `#message-${hit.match.messageId}` : ''}`;
}
