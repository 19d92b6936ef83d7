import { describe, expect, it } from 'vitest';
import { parseEvents, readEvents, type ServerEvent } from './sse';

describe('parseEvents', () => {
  it('splits events, skips comments and keeps the unfinished tail', () => {
    const { events, rest } = parseEvents(': keepalive\n\nevent: delta\ndata: {"text":"Hel"}\n\nevent: delta\ndata: {"te');
    expect(events).toEqual([{ event: 'delta', data: { text: 'Hel' } }]);
    expect(rest).toBe('event: delta\ndata: {"te');
  });
});

describe('readEvents', () => {
  it('reassembles events split across chunks, including multi-byte characters', async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text":"30 días"}\n\nevent: done\ndata: {"message":{"id":"a"}}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
        controller.close();
      },
    });
    const seen: ServerEvent[] = [];
    await readEvents(new Response(body), (event) => seen.push(event));
    expect(seen).toEqual([
      { event: 'delta', data: { text: '30 días' } },
      { event: 'done', data: { message: { id: 'a' } } },
    ]);
  });
});
