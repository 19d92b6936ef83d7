import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, SseDecoder, parseSse, type SseEvent } from './sse.js';
import { ProviderError } from './types.js';

const bytes = (text: string) => new TextEncoder().encode(text);

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function parse(chunks: Array<string | Uint8Array>, options = {}): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const event of parseSse(streamOf(chunks.map((c) => (typeof c === 'string' ? bytes(c) : c))), options)) out.push(event);
  return out;
}

/** Every way of cutting `text` into single bytes gives the same events as the whole. */
async function parseByteByByte(text: string): Promise<SseEvent[]> {
  const all = bytes(text);
  return parse(Array.from(all, (b) => Uint8Array.of(b)));
}

describe('SSE parser', () => {
  it('parses data and event fields, one event per blank line', async () => {
    expect(await parse(['data: one\n\nevent: ping\ndata: {"type":"ping"}\n\n'])).toEqual([{ data: 'one' }, { event: 'ping', data: '{"type":"ping"}' }]);
  });

  it('joins multi-line data with newlines and strips only one leading space', async () => {
    expect(await parse(['data: a\ndata:b\ndata:  c\ndata\n\n'])).toEqual([{ data: 'a\nb\n c\n' }]);
  });

  it('accepts CRLF, CR and LF line endings, mixed', async () => {
    expect(await parse(['data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\n'])).toEqual([{ data: 'a' }, { data: 'b' }, { data: 'c' }, { data: 'd' }]);
  });

  it('treats a CRLF split across chunks as one line ending', async () => {
    expect(await parse(['data: a\r', '\n\r', '\ndata: b\r', '\r'])).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('ignores comments, id, retry and unknown fields; data-less events are not dispatched', async () => {
    const text = ': keep-alive\n\n:OPENROUTER PROCESSING\nid: 7\nretry: 100\nfoo: bar\n\nevent: x\n\ndata: ok\n\n';
    expect(await parse([text])).toEqual([{ data: 'ok' }]);
  });

  it('resets the event name after each event', async () => {
    expect(await parse(['event: a\ndata: 1\n\ndata: 2\n\n'])).toEqual([{ event: 'a', data: '1' }, { data: '2' }]);
  });

  it('dispatches an empty data field as an empty string', async () => {
    expect(await parse(['data:\n\n'])).toEqual([{ data: '' }]);
  });

  it('keeps colons inside the value', async () => {
    expect(await parse(['data: {"a":"b:c"}\n\n'])).toEqual([{ data: '{"a":"b:c"}' }]);
  });

  it('discards an unterminated event at the end of the stream', async () => {
    expect(await parse(['data: complete\n\ndata: partial\n'])).toEqual([{ data: 'complete' }]);
    expect(await parse(['data: partial'])).toEqual([]);
  });

  it('survives chunk boundaries anywhere, including inside UTF-8 sequences', async () => {
    const text = 'event: delta\r\ndata: héllo wörld — 你好 🙂\r\n\r\ndata: line1\rdata: line2\r\r: c\ndata: z\n\n';
    const expected = [{ event: 'delta', data: 'héllo wörld — 你好 🙂' }, { data: 'line1\nline2' }, { data: 'z' }];
    expect(await parse([text])).toEqual(expected);
    expect(await parseByteByByte(text)).toEqual(expected);
    // and every two-way split
    const all = bytes(text);
    for (let i = 1; i < all.length; i++) {
      expect(await parse([all.slice(0, i), all.slice(i)])).toEqual(expected);
    }
  });

  it('strips a leading byte order mark', async () => {
    expect(await parse([Uint8Array.of(0xef, 0xbb), Uint8Array.of(0xbf), 'data: x\n\n'])).toEqual([{ data: 'x' }]);
  });

  it('replaces invalid UTF-8 instead of failing', async () => {
    expect(await parse([Uint8Array.of(0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a)])).toEqual([{ data: '\ufffd' }]);
  });

  it('refuses an event larger than 1 MiB, across many data lines or one endless line', async () => {
    const line = `data: ${'x'.repeat(1024)}\n`;
    const many = Array.from({ length: 1025 }, () => line);
    await expect(parse(many)).rejects.toMatchObject({ name: 'ProviderError', code: 'provider_protocol_error' });

    const decoder = new SseDecoder();
    decoder.push(bytes('data: '));
    const chunk = bytes('y'.repeat(64 * 1024));
    let error: unknown;
    try {
      for (let i = 0; i < 20; i++) decoder.push(chunk);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).code).toBe('provider_protocol_error');
  });

  it('accepts events just under the limit, and the limit is per event', async () => {
    const big = 'z'.repeat(MAX_EVENT_BYTES - 100);
    const events = await parse([`data: ${big}\n\n`, `data: ${big}\n\n`]);
    expect(events.map((e) => e.data.length)).toEqual([big.length, big.length]);
  });

  it('honours a custom limit', async () => {
    await expect(parse(['data: 0123456789\n\n'], { maxEventBytes: 8 })).rejects.toMatchObject({ code: 'provider_protocol_error' });
  });

  it('reads any async iterable of chunks', async () => {
    async function* source() {
      yield bytes('data: a');
      yield bytes('\n\n');
    }
    const out: SseEvent[] = [];
    for await (const event of parseSse(source())) out.push(event);
    expect(out).toEqual([{ data: 'a' }]);
  });

  it('cancels the stream when the consumer stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes('data: tick\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of parseSse(stream)) {
      expect(event.data).toBe('tick');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
