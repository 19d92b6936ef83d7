import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Accept a caller's id only when it is short and plain, so it is safe in logs and headers.
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

// Generated ids: a random per-process prefix and a counter — unique across processes,
// and ~5× cheaper than a UUID per request. They identify requests; they grant nothing.
const PREFIX = randomUUID().slice(0, 24); // 8-4-4-4- of a UUID; the counter fills the last 12
let counter = 0;

/** Fastify `genReqId`: the caller's `X-Request-Id` when well formed, else a fresh unique id. */
export function requestId(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  if (typeof header === 'string' && WELL_FORMED.test(header)) return header;
  return newRequestId();
}

/** A fresh unique id, for answers written before Fastify has a request (Node's client errors). */
export function newRequestId(): string {
  counter = (counter + 1) % 0xffffffffffff;
  return `${PREFIX}${counter.toString(16).padStart(12, '0')}`;
}
