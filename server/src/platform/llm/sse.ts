/**
 * Incremental Server-Sent Events parser (WHATWG HTML "event stream interpretation").
 *
 * Bytes may be split anywhere — inside a line, between CR and LF, inside a UTF-8
 * sequence. Lines end with CRLF, LF or CR; `:` lines are comments; `data` fields of one
 * event are joined with "\n"; an event is dispatched at a blank line and only when it has
 * data; an unterminated event at the end of the stream is discarded. `id` and `retry` are
 * parsed and ignored (the providers never reconnect). One event (its data, event name and
 * the line being read) may not exceed `maxEventBytes` (1 MiB by default): a peer cannot
 * make the server buffer without bound.
 */
import { ProviderError } from './types.js';

export interface SseEvent {
  /** The `event:` field, when the event had one (the WHATWG default type is "message"). */
  event?: string;
  data: string;
}

export const MAX_EVENT_BYTES = 1024 * 1024;

export interface SseOptions {
  maxEventBytes?: number;
}

const LF = 10;
const CR = 13;

/** Push-style decoder: feed it chunks, get back the events they complete. */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly maxEventBytes: number;
  /** The line being read, in pieces (joined only when it ends). */
  private line: string[] = [];
  private lineBytes = 0;
  /** The previous chunk ended with CR: a LF starting the next one belongs to it. */
  private pendingCr = false;
  private data = '';
  private hasData = false;
  private dataBytes = 0;
  private eventType = '';

  constructor(options: SseOptions = {}) {
    this.maxEventBytes = options.maxEventBytes ?? MAX_EVENT_BYTES;
  }

  /** Decodes one chunk; returns the events it completes, in order. */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.decode(chunk, { stream: true }), out);
    return out;
  }

  /** Ends the stream: flushes the decoder and discards any unterminated event. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.decode(), out);
    this.line = [];
    this.lineBytes = 0;
    this.resetEvent();
    return out;
  }

  private feed(text: string, out: SseEvent[]): void {
    let start = 0;
    if (this.pendingCr && text.length > 0) {
      this.pendingCr = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      this.appendToLine(text.slice(start, i));
      const line = this.line.length === 1 ? this.line[0]! : this.line.join('');
      this.line = [];
      this.lineBytes = 0;
      this.processLine(line, out);
      if (c === CR) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    if (start < text.length) this.appendToLine(text.slice(start));
  }

  private appendToLine(piece: string): void {
    if (piece.length === 0) return;
    this.line.push(piece);
    this.lineBytes += Buffer.byteLength(piece, 'utf8');
    this.checkSize();
  }

  private checkSize(): void {
    if (this.lineBytes + this.dataBytes + this.eventType.length > this.maxEventBytes) {
      throw new ProviderError('provider_protocol_error', `The provider sent a stream event larger than ${this.maxEventBytes} bytes.`);
    }
  }

  private processLine(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return; // comment
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    }
    switch (field) {
      case 'data':
        this.data = this.hasData ? `${this.data}\n${value}` : value;
        this.hasData = true;
        this.dataBytes += Buffer.byteLength(value, 'utf8') + 1;
        this.checkSize();
        break;
      case 'event':
        this.eventType = value;
        this.checkSize();
        break;
      default:
        // id, retry and unknown fields: nothing to keep.
        break;
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (this.hasData) {
      out.push(this.eventType ? { event: this.eventType, data: this.data } : { data: this.data });
    }
    this.resetEvent();
  }

  private resetEvent(): void {
    this.data = '';
    this.hasData = false;
    this.dataBytes = 0;
    this.eventType = '';
  }
}

/**
 * Parses an event stream. Accepts a WHATWG ReadableStream or any async iterable of
 * byte chunks. Stopping the iteration early releases (cancels) the source.
 */
export async function* parseSse(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, options: SseOptions = {}): AsyncGenerator<SseEvent, void, undefined> {
  const decoder = new SseDecoder(options);
  const chunks = isReadableStream(source) ? readStream(source) : source;
  for await (const chunk of chunks) {
    for (const event of decoder.push(chunk)) yield event;
  }
  for (const event of decoder.end()) yield event;
}

function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof (value as { getReader?: unknown }).getReader === 'function';
}

async function* readStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
