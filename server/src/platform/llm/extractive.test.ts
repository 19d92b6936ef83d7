import { describe, expect, it } from 'vitest';
import { collect } from '../../../test/fake-llm.js';
import { ExtractiveProvider, NO_ANSWER, extractiveAnswer, sentences, terms } from './extractive.js';
import type { ChatEvent, ChatRequest, Passage } from './types.js';

const passage = (id: string, text: string, score = 0.5): Passage => ({ id, source: `doc-${id}.md`, text, score });

const VPN = passage('1', 'Our office network is segmented by team. To connect to the VPN, install WireGuard and import the profile from the portal. Profiles expire after 90 days.');
const LUNCH = passage('2', 'The cafeteria serves lunch from noon to two. Vegetarian options are available every day.');

const request = (question: string, passages?: Passage[], extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'extractive',
  messages: [
    { role: 'system', content: 'Answer from the knowledge.' },
    { role: 'user', content: 'An earlier question about lunch.' },
    { role: 'assistant', content: 'Earlier answer.' },
    { role: 'user', content: question },
  ],
  passages,
  ...extra,
});

const text = (events: ChatEvent[]) => events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');

describe('extractive answers', () => {
  it('quotes the most relevant sentence first, followed by its citation marker', () => {
    const answer = extractiveAnswer('How do I connect to the VPN?', [VPN, LUNCH]);
    expect(answer.startsWith('According to the knowledge base: "To connect to the VPN, install WireGuard and import the profile from the portal." [1]')).toBe(true);
  });

  it('prefers the matching passage over an unrelated one', () => {
    const answer = extractiveAnswer('When is lunch served in the cafeteria?', [VPN, LUNCH]);
    expect(answer).toContain('"The cafeteria serves lunch from noon to two." [2]');
    expect(answer).not.toContain('[1]');
  });

  it('quotes at most three sentences, each with its own passage id', () => {
    const many = [passage('a', 'Backups run nightly. Backups are encrypted.'), passage('b', 'Backups are kept for 30 days. Restore backups from the console.')];
    const answer = extractiveAnswer('How are backups handled?', many);
    const quotes = answer.match(/"[^"]+" \[[ab]\]/g) ?? [];
    expect(quotes).toHaveLength(3);
  });

  it('weighs rare terms above common ones (IDF)', () => {
    const docs = [passage('1', 'The server restarts at midnight.'), passage('2', 'The server logs rotate weekly.'), passage('3', 'The server has a kernel watchdog.')];
    const answer = extractiveAnswer('Does the server have a watchdog?', docs);
    expect(answer).toMatch(/^According to the knowledge base: "The server has a kernel watchdog\." \[3\]/);
  });

  it('matches plurals and ignores case', () => {
    expect(extractiveAnswer('VPN PROFILE expiry?', [VPN])).toContain('"Profiles expire after 90 days." [1]');
  });

  it('says NO_ANSWER without passages, without overlap, or for a stop-word question', () => {
    expect(extractiveAnswer('How do I connect to the VPN?', [])).toBe(NO_ANSWER);
    expect(extractiveAnswer('What is the parking policy?', [VPN, LUNCH])).toBe(NO_ANSWER);
    expect(extractiveAnswer('What is it?', [VPN, LUNCH])).toBe(NO_ANSWER);
  });

  it('splits sentences and tokenises without stop words', () => {
    expect(sentences('One. Two!  Three?\nFour "five." Six')).toEqual(['One.', 'Two!', 'Three?', 'Four "five."', 'Six']);
    expect(terms('What are the Keys for the VPN?')).toEqual(['key', 'vpn']);
  });
});

describe('ExtractiveProvider', () => {
  const provider = new ExtractiveProvider();

  it('streams the answer as word-sized deltas, then usage, then done', async () => {
    const { items, error } = await collect(provider.stream(request('How do I connect to the VPN?', [VPN, LUNCH])));
    expect(error).toBeUndefined();
    const deltas = items.filter((e) => e.type === 'delta');
    const answer = text(items);
    expect(answer).toBe(extractiveAnswer('How do I connect to the VPN?', [VPN, LUNCH]));
    expect(deltas.length).toBe(answer.split(' ').length);
    expect(items.slice(-2)).toEqual([
      { type: 'usage', inputTokens: 4 + 5 + 2 + 7, outputTokens: answer.split(' ').length },
      { type: 'done', finishReason: 'stop' },
    ]);
    expect(items.some((e) => e.type === 'tool_call')).toBe(false);
  });

  it('answers the last user message only', async () => {
    const { items } = await collect(provider.stream(request('Tell me about vegetarian options.', [VPN, LUNCH])));
    expect(text(items)).toContain('[2]');
    expect(text(items)).not.toContain('[1]');
  });

  it('streams NO_ANSWER when there are no passages, even when tools are offered', async () => {
    const { items } = await collect(provider.stream(request('How do I connect to the VPN?', undefined, { tools: [{ name: 'f', description: 'd', parameters: {} }] })));
    expect(text(items)).toBe(NO_ANSWER);
    expect(items.at(-1)).toEqual({ type: 'done', finishReason: 'stop' });
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const seen: ChatEvent[] = [];
    let error: unknown;
    try {
      for await (const event of provider.stream(request('How do I connect to the VPN?', [VPN], { signal: controller.signal }))) {
        seen.push(event);
        controller.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(seen).toHaveLength(1);
    expect(error).toMatchObject({ name: 'AbortError' });
  });

  it('test() is ok without network', async () => {
    await expect(provider.test()).resolves.toMatchObject({ ok: true });
  });
});
