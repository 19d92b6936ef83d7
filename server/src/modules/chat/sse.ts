/**
 * Server-Sent Events responses: a stream handed to Fastify (so the usual headers and
 * hooks apply), events as `event: <type>` + one JSON `data:` line, a comment every
 * 15 s so proxies keep the connection.
 *
 * Writes are coalesced: an event goes out at once when nothing was written in the last
 * COALESCE_MS (so the first token is never held back), otherwise with whatever else
 * arrives until then. A socket write per token was the largest single cost of a
 * streamed answer; a person reading does not see 30 ms.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

const KEEPALIVE_MS = 15_000;
export const COALESCE_MS = 30;

export function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}

export interface EventStream {
  /** `urgent` events (and everything queued before them) are written now. */
  send(event: string, data: unknown, urgent?: boolean): void;
  end(): void;
}

/** Named events (`event: <type>` + `data: <JSON>`): Bastion's own chat streams. */
export function openEventStream(reply: FastifyReply): EventStream {
  const frames = openFrameStream(reply);
  return {
    send: (event, data, urgent) => frames.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, urgent),
    end: () => frames.end(),
  };
}

export interface FrameStream {
  /** Queues one complete frame (ending in a blank line); `urgent` frames (and everything queued before them) are written now. */
  write(frame: string, urgent?: boolean): void;
  end(): void;
}

/**
 * The stream under both formats: headers, keepalive and write coalescing. Frames are written
 * as given, for formats other than named events (the OpenAI-compatible API sends
 * `data: <JSON>` lines and `data: [DONE]`).
 */
export function openFrameStream(reply: FastifyReply): FrameStream {
  const stream = new PassThrough();
  let ended = false;
  const keepalive = setInterval(() => stream.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  reply.raw.on('close', () => clearInterval(keepalive));
  reply
    .status(200)
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-accel-buffering', 'no') // nginx: do not buffer the stream
    .send(stream);
  let pending = '';
  let timer: NodeJS.Timeout | null = null;
  let lastWrite = Number.NEGATIVE_INFINITY;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    lastWrite = performance.now();
    if (pending && !stream.destroyed) stream.write(pending);
    pending = '';
  };
  return {
    write(frame, urgent = false) {
      if (ended || stream.destroyed) return;
      pending += frame;
      if (timer) {
        if (urgent) flush();
        return;
      }
      const wait = COALESCE_MS - (performance.now() - lastWrite);
      if (urgent || wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    },
    end() {
      if (ended) return;
      flush();
      ended = true;
      clearInterval(keepalive);
      stream.end();
    },
  };
}
