/** The event stream's write coalescing, read over a real socket chunk by chunk. */
import Fastify from 'fastify';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COALESCE_MS, openEventStream } from './sse.js';

const app = Fastify();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

app.get('/tokens', async (_request, reply) => {
  const stream = openEventStream(reply);
  stream.send('message', { n: 0 }); // nothing written yet: goes out at once
  for (let n = 1; n <= 20; n++) {
    stream.send('delta', { n }); // within the window: held and written together
    await sleep(1);
  }
  await sleep(COALESCE_MS * 3);
  stream.send('delta', { n: 21 }); // the window has passed: at once again
  stream.send('delta', { n: 22 }); // just written: held
  stream.send('delta', { n: 23 }, true); // urgent: writes what is queued now
  stream.send('delta', { n: 24 });
  stream.send('delta', { n: 25 });
  stream.end(); // flushes the rest
});

let port: number;
beforeAll(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(() => app.close());

/** Each chunk as it arrived on the socket, with the event numbers it held. */
function readChunks(): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/tokens', headers: { accept: 'text/event-stream' } }, (response) => {
      const chunks: number[][] = [];
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => chunks.push([...chunk.matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]))));
      response.on('end', () => resolve(chunks));
    })
      .on('error', reject)
      .end();
  });
}

describe('event stream writes', () => {
  it('writes the first event at once, coalesces what follows within the window, and loses and reorders nothing', async () => {
    const chunks = await readChunks();
    expect(chunks.flat()).toEqual(Array.from({ length: 26 }, (_, n) => n));
    expect(chunks[0]![0]).toBe(0);
    expect(chunks.findIndex((c) => c.includes(0))).not.toBe(chunks.findIndex((c) => c.includes(20))); // the first event was not held for the window
    // Twenty events 1 ms apart took far fewer than twenty writes.
    const burst = new Set(chunks.filter((c) => c.some((n) => n >= 1 && n <= 20)));
    expect(burst.size).toBeLessThanOrEqual(6);
    // After a quiet spell an event is written on its own, not held.
    expect(chunks.some((c) => c.length === 1 && c[0] === 21)).toBe(true);
    // An urgent event takes what was queued before it along, in order.
    expect(chunks.find((c) => c.includes(23))).toEqual([22, 23]);
    // end() writes what is still queued.
    expect(chunks.flat().slice(-2)).toEqual([24, 25]);
  });
});
