/**
 * CPU per streamed token on the provider side of a chat, in one process: STREAMS concurrent
 * answers from the fake provider (bench/servers/fake-llm-server.mjs, own process, 100 tokens
 * 20 ms apart: one token per network chunk, as real providers send them), read for SECONDS
 * a phase. The figure is this process's CPU time (user + system) per token received.
 *
 * Phases, alternating for ROUNDS so a disturbance hits all of them:
 * - raw body, fetch: the bytes of each answer from undici's fetch (a WHATWG stream), nothing parsed;
 * - raw body, request: the same from undici's request API (a Node stream);
 * - provider over fetch: Bastion's OpenAI provider (SSE, chunk JSON, delta events) on
 *   OutboundHttp.fetch, as chat read answers until 2026-12-08;
 * - provider over request: the same on OutboundHttp.request, as chat reads them now.
 *
 *   npx tsx bench/token-path.ts            # BENCH_STREAMS=100 BENCH_SECONDS=8 BENCH_ROUNDS=3
 *
 * Results: bench/results/token-path-2026-12-08.md (written by hand from the printed table).
 */
import path from 'node:path';
import { Agent, fetch as undiciFetch, request as undiciRequest } from 'undici';
import { createProvider } from '../server/src/platform/llm/index.js';
import type { FetchLike } from '../server/src/platform/llm/http.js';
import { OutboundHttp } from '../server/src/platform/net/outbound.js';
import { parseAllowList } from '../server/src/platform/net/ssrf-guard.js';
import { loadAverage } from './lib/machine.js';
import { ROOT } from './lib/paths.js';
import { startNode, stop, waitUp } from './lib/processes.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PORT = 3935;
const BASE = `http://127.0.0.1:${PORT}`;
const URL_ = `${BASE}/v1/chat/completions`;
const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hello' }] });
const headers = { 'content-type': 'application/json' };
const dispatcher = new Agent({ connections: STREAMS * 2 });

async function rawFetch(until: number): Promise<number> {
  let chunks = 0;
  while (performance.now() < until) {
    const res = await undiciFetch(URL_, { method: 'POST', headers, body, dispatcher });
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) if (chunk.byteLength > 0) chunks++;
  }
  return chunks;
}

async function rawRequest(until: number): Promise<number> {
  let chunks = 0;
  while (performance.now() < until) {
    const res = await undiciRequest(URL_, { method: 'POST', headers, body, dispatcher });
    for await (const chunk of res.body) if ((chunk as Buffer).byteLength > 0) chunks++;
  }
  return chunks;
}

const outbound = new OutboundHttp({ purpose: 'providers', allow: parseAllowList('127.0.0.1:*') });
const overFetch: FetchLike = (url, init) => outbound.fetch(url, { ...init, timeoutMs: 60_000 });
const overRequest: FetchLike = (url, init) => outbound.request(url, { ...init, timeoutMs: 60_000 });

function viaProvider(fetch: FetchLike) {
  const provider = createProvider('openai', { baseUrl: `${BASE}/v1`, apiKey: 'k', fetch });
  return async (until: number): Promise<number> => {
    let tokens = 0;
    while (performance.now() < until) {
      for await (const event of provider.stream({ model: 'm', messages: [{ role: 'user', content: 'hello' }] })) if (event.type === 'delta') tokens++;
    }
    return tokens;
  };
}

interface Row {
  name: string;
  perTokenUs: number;
  tokensPerS: number;
}

async function phase(name: string, run: (until: number) => Promise<number>): Promise<Row> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + SECONDS * 1000;
  // Streams start spread over one answer's length, as people do.
  const counts = await Promise.all(Array.from({ length: STREAMS }, (_, i) => new Promise((r) => setTimeout(r, (i * 2000) / STREAMS)).then(() => run(until))));
  const used = process.cpuUsage(cpu);
  const tokens = counts.reduce((a, b) => a + b, 0);
  return { name, perTokenUs: (used.user + used.system) / tokens, tokensPerS: tokens / ((performance.now() - started) / 1000) };
}

const fake = startNode([path.join(ROOT, 'bench/servers/fake-llm-server.mjs'), String(PORT), '100', '20'], { cwd: ROOT, env: process.env });
try {
  await waitUp(`${BASE}/bench/stats`);
  const phases: Array<[string, (until: number) => Promise<number>]> = [
    ['raw body, fetch', rawFetch],
    ['raw body, request', rawRequest],
    ['provider over fetch', viaProvider(overFetch)],
    ['provider over request', viaProvider(overRequest)],
  ];
  for (const [name, run] of phases) await phase(`${name} (warm-up)`, run);
  const rows: Row[] = [];
  const loadBefore = loadAverage();
  for (let r = 0; r < ROUNDS; r++) for (const [name, run] of phases) rows.push(await phase(name, run));
  console.log(`${new Date().toISOString()}: ${STREAMS} streams, ${SECONDS} s a phase, ${ROUNDS} rounds; load average ${loadBefore.toFixed(2)} before the rounds, ${loadAverage().toFixed(2)} after`);
  console.log('\n| phase | CPU µs per token, each round | median | tokens/s (median) |\n|---|---|---:|---:|');
  for (const [name] of phases) {
    const mine = rows.filter((row) => row.name === name);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(`| ${name} | ${mine.map((row) => row.perTokenUs.toFixed(1)).join(' · ')} | ${median(mine.map((row) => row.perTokenUs)).toFixed(1)} | ${median(mine.map((row) => row.tokensPerS)).toFixed(0)} |`);
  }
} finally {
  await stop(fake);
  await dispatcher.close();
  await outbound.close();
}
