/** The Markdown of an export: structure, footnotes for citations, escaping of plain-text fields, safe file names. */
import { describe, expect, it } from 'vitest';
import type { ConversationExport, ExportedCitation, ExportedMessage } from './export.js';
import { escapeMarkdown, exportFilename, renderMarkdown } from './export-markdown.js';

const AT = new Date('2026-03-04T05:06:07Z');
const ID = '0a1b2c3d-0000-4000-8000-000000000000';

function message(overrides: Partial<ExportedMessage>): ExportedMessage {
  return { id: 'm', role: 'user', text: '', status: 'complete', stopReason: null, model: null, agentVersion: 1, inputTokens: 0, outputTokens: 0, createdAt: AT, citations: [], toolCalls: [], ...overrides };
}

function citation(marker: string, overrides: Partial<ExportedCitation> = {}): ExportedCitation {
  return { marker, source: `doc.md (chunk ${marker})`, text: `Passage ${marker}`, score: 0.5, documentId: null, knowledgeBaseId: null, document: null, heading: null, chunk: null, ...overrides };
}

function doc(messages: ExportedMessage[], title: string | null = 'Plans'): ConversationExport {
  return {
    conversation: { id: ID, agentId: 'a', agentVersion: 2, source: 'chat', title, pinned: false, archived: false, createdAt: AT, updatedAt: AT },
    agent: { id: 'a', name: 'Helper', version: 2 },
    messages,
    exportedAt: AT,
  };
}

describe('renderMarkdown', () => {
  it('writes the title, agent and dates, then each message under its role, with citations as footnotes', () => {
    const text = renderMarkdown(
      doc([
        message({ role: 'user', text: 'What are [1] and [2]?' }),
        message({
          role: 'assistant',
          text: 'See [1], not [3]; also [the guide](https://example.org) and [2](https://example.org/2).',
          model: 'gpt-x',
          citations: [citation('1', { documentId: 'd-1', chunk: 4, text: 'line one\nline <two>' }), citation('2')],
          toolCalls: [{ name: 'search_knowledge', arguments: '{}', ok: true }],
        }),
        message({ role: 'assistant', text: '', status: 'failed', stopReason: 'provider_timeout' }),
      ]),
    );
    expect(text).toBe(
      [
        '# Plans',
        '',
        '- Agent: Helper (version 2)',
        '- Started: 2026-03-04 05:06 UTC',
        '- Last activity: 2026-03-04 05:06 UTC',
        '- Exported: 2026-03-04 05:06 UTC',
        `- Conversation: ${ID}`,
        '',
        '---',
        '',
        '### User · 2026-03-04 05:06 UTC',
        '',
        'What are [1] and [2]?',
        '',
        '---',
        '',
        '### Assistant · 2026-03-04 05:06 UTC',
        '',
        '*Helper · model gpt-x · tools: search\\_knowledge*',
        '',
        'See [^2-1], not [3]; also [the guide](https://example.org) and [2](https://example.org/2).',
        '',
        '[^2-1]: **doc.md (chunk 1)** (document d-1, chunk 4)',
        '',
        '    > line one',
        '    > line \\<two\\>',
        '',
        '[^2-2]: **doc.md (chunk 2)**',
        '',
        '    > Passage 2',
        '',
        '---',
        '',
        '### Assistant · 2026-03-04 05:06 UTC',
        '',
        '*Helper · failed (provider\\_timeout)*',
        '',
        '*No text.*',
        '',
      ].join('\n'),
    );
  });

  it('keeps markup out of plain-text fields: titles, agent names and sources read as text', () => {
    const hostile = '<img src=x onerror=alert(1)> [link](javascript:alert(1)) *bold* `code` # | ~ & \\';
    const text = renderMarkdown({ ...doc([message({ role: 'assistant', citations: [citation('1', { source: hostile })], text: 'x [1]' })], `${hostile}\n# second heading`), agent: { id: 'a', name: hostile, version: 1 } });
    expect(text, 'every < is escaped').not.toMatch(/(?<!\\)</);
    expect(text, 'no link is formed').not.toMatch(/(?<!\\)\]\(javascript/);
    expect(text.split('\n')[0]).toBe(`# ${escapeMarkdown(hostile)} \\# second heading`);
    expect(text.match(/^# /gm), 'a title cannot add a heading').toHaveLength(1);
  });

  it('names a deleted agent and an untitled conversation', () => {
    const text = renderMarkdown({ ...doc([message({ role: 'assistant', text: 'hi' })], null), agent: { id: 'a', name: null, version: 3 } });
    expect(text).toContain('# Untitled conversation');
    expect(text).toContain('- Agent: deleted agent (version 3)');
    expect(text).toContain('*deleted agent*');
  });
});

describe('exportFilename', () => {
  it('is made of the title in lowercase ASCII and the start of the id, never anything a header or a file system could misread', () => {
    expect(exportFilename({ id: ID, title: 'Trip to Lisbon — Budget!' }, 'md')).toBe('trip-to-lisbon-budget-0a1b2c3d.md');
    expect(exportFilename({ id: ID, title: 'Café crème' }, 'json')).toBe('cafe-creme-0a1b2c3d.json');
    expect(exportFilename({ id: ID, title: '"; filename=evil.exe\r\nSet-Cookie: a=b' }, 'md')).toBe('filename-evil-exe-set-cookie-a-b-0a1b2c3d.md');
    expect(exportFilename({ id: ID, title: '../../etc/passwd' }, 'md')).toBe('etc-passwd-0a1b2c3d.md');
    expect(exportFilename({ id: ID, title: '日本語' }, 'md')).toBe('conversation-0a1b2c3d.md');
    expect(exportFilename({ id: ID, title: null }, 'json')).toBe('conversation-0a1b2c3d.json');
    expect(exportFilename({ id: ID, title: 'x'.repeat(300) }, 'md')).toMatch(/^x{60}-0a1b2c3d\.md$/);
  });
});
