/**
 * A conversation export as a Markdown document: the title, agent and dates, then each
 * message under its role and time, with the passages it cites as footnotes (source name,
 * document and passage). Message text is Markdown already and is kept as written; every
 * plain-text field (title, agent, source names, passages) is escaped, so it reads as the
 * text it is in any Markdown viewer and cannot open HTML or a link.
 */
import type { ConversationExport, ExportedMessage } from './export.js';

/** Backslash-escapes the characters that start Markdown or HTML (CommonMark §2.4: any ASCII punctuation may be escaped). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>&|~#!]/g, '\\$&');
}

/** A one-line plain-text field, escaped. */
function inline(text: string): string {
  return escapeMarkdown(text.replace(/\s+/g, ' ').trim());
}

/** "2026-01-01 09:30 UTC" */
function when(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function footnote(messageNumber: number, marker: string): string {
  return `[^${messageNumber}-${marker}]`;
}

function meta(doc: ConversationExport, message: ExportedMessage): string | null {
  const parts: string[] = [];
  if (message.role === 'assistant') {
    parts.push(inline(doc.agent.name ?? 'deleted agent'));
    if (message.model) parts.push(`model ${inline(message.model)}`);
  }
  if (message.status !== 'complete') parts.push(inline(message.stopReason ? `${message.status} (${message.stopReason})` : message.status));
  if (message.toolCalls.length > 0) parts.push(`tools: ${message.toolCalls.map((t) => inline(t.ok ? t.name : `${t.name} (failed)`)).join(', ')}`);
  return parts.length > 0 ? `*${parts.join(' · ')}*` : null;
}

function renderMessage(doc: ConversationExport, message: ExportedMessage, number: number): string[] {
  const lines = [`### ${message.role === 'user' ? 'User' : 'Assistant'} · ${when(message.createdAt)}`, ''];
  const about = meta(doc, message);
  if (about) lines.push(about, '');
  const cited = new Set(message.citations.map((c) => c.marker));
  // [n] markers of cited passages become footnote references; a link's [text](url) is left alone.
  const text = message.text.replace(/\[(\d+)\](?!\()/g, (marker, n: string) => (cited.has(n) ? footnote(number, n) : marker));
  lines.push(text.trim() === '' ? '*No text.*' : text.trimEnd(), '');
  for (const citation of message.citations) {
    const document = citation.documentId ? ` (document ${citation.documentId}${citation.chunk !== null ? `, chunk ${citation.chunk}` : ''})` : '';
    lines.push(`${footnote(number, citation.marker)}: **${inline(citation.source)}**${document}`, '');
    for (const line of citation.text.trim().split(/\r?\n/)) lines.push(`    > ${escapeMarkdown(line)}`);
    lines.push('');
  }
  return lines;
}

/** The Markdown document of an export (UTF-8 text, LF line ends, one trailing newline). */
export function renderMarkdown(doc: ConversationExport): string {
  const { conversation } = doc;
  const lines = [
    `# ${inline(conversation.title ?? 'Untitled conversation')}`,
    '',
    `- Agent: ${inline(doc.agent.name ?? 'deleted agent')} (version ${doc.agent.version})`,
    `- Started: ${when(conversation.createdAt)}`,
    `- Last activity: ${when(conversation.updatedAt)}`,
    `- Exported: ${when(doc.exportedAt)}`,
    `- Conversation: ${conversation.id}`,
    '',
  ];
  doc.messages.forEach((message, index) => lines.push('---', '', ...renderMessage(doc, message, index + 1)));
  if (doc.messages.length === 0) lines.push('*No messages yet.*', '');
  return lines.join('\n').trimEnd() + '\n';
}

/** The file name of an export: the title made safe for any file system and header, and the start of the id. */
export function exportFilename(conversation: { id: string; title: string | null }, extension: 'md' | 'json'): string {
  const slug = (conversation.title ?? '')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // é → e
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return `${slug ? `${slug}-` : 'conversation-'}${conversation.id.slice(0, 8)}.${extension}`;
}
