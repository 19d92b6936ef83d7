/**
 * Server-Sent Events responses: a stream handed to Fastify (so the usual headers and
 * hooks apply), events as `event: <type>` + one JSON `data:` line, a comment every
 * 15 s so proxies keep the connection.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

const KEEPALIVE_MS = 15_000;

export function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}

export interface EventStream {
  send(event: string, data: unknown): void;
  end(): void;
}

export function openEventStream(reply: FastifyReply): EventStream {
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
  return {
    send(event, data) {
      if (!ended && !stream.destroyed) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      ended = true;
      clearInterval(keepalive);
      stream.end();
    },
  };
}
