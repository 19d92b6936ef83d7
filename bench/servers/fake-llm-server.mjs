// A standalone fake LLM provider for bench/chat.ts, in its own process: speaks the
// OpenAI chat-completions streaming protocol (the same wire format as
// server/test/fake-llm.ts) and answers EVERY request with the same text, streamed one
// token per interval: `data: {chunk}` lines with choices[0].delta, a role chunk at once,
// then the tokens, a finish chunk, a usage chunk when stream_options.include_usage, and
// `data: [DONE]`. No queue, no recording of bodies (it must stay cheap under load).
//
// For the timing breakdown, a request whose last user message contains `[bench <tag>]`
// has its arrival and first-token times recorded (epoch ms, sub-ms precision);
// GET /bench/stats returns and clears them, with request counters.
//
// With `markdown` as the fourth argument the answer is Markdown (headings, nested lists, a
// table, fenced code in several languages), repeated to the number of tokens: a page
// rendering it has real work to do (bench/web-typing.ts).
//
//   node bench/servers/fake-llm-server.mjs <port> [tokens=100] [intervalMs=20] [markdown]
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const port = Number(process.argv[2] ?? 3930);
const TOKENS = Number(process.argv[3] ?? 100);
const INTERVAL_MS = Number(process.argv[4] ?? 20);
const MARKDOWN = `## Setting up the service

The service needs three things: a **database**, a *cache* and a key file.

1. Install the packages:
   - \`postgresql\` for the data
   - \`redis\` for sessions and limits
     - persistence is optional
2. Create the key file and keep a copy.

| setting | default | meaning |
|---|---:|---|
| PORT | 3000 | where it listens |
| DB_POOL_MAX | 10 | connections kept |

\`\`\`typescript
export async function start(port: number): Promise<void> {
  const app = await build({ logger: true });
  await app.listen({ host: '127.0.0.1', port });
}
\`\`\`

\`\`\`python
def ready(url: str) -> bool:
    return requests.get(url, timeout=2).status_code == 200
\`\`\`

> Restart the service after changing a setting.

`;
const markdownTokens = MARKDOWN.match(/\s*\S+/g);
const words =
  process.argv[5] === 'markdown'
    ? Array.from({ length: TOKENS }, (_, i) => (i > 0 && i % markdownTokens.length === 0 ? '\n\n' : '') + markdownTokens[i % markdownTokens.length])
    : Array.from({ length: TOKENS }, (_, i) => (i === 0 ? 'word1' : ` word${i + 1}`));
const now = () => performance.timeOrigin + performance.now();

let seq = 0;
let chatRequests = 0;
let streamsOpen = 0;
let streamsCompleted = 0;
let timings = [];

function chunk(id, created, model, delta, finishReason, includeUsage) {
  const value = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  if (includeUsage) value.usage = null;
  return `data: ${JSON.stringify(value)}\n\n`;
}

function inputWords(messages) {
  let total = 0;
  for (const message of Array.isArray(messages) ? messages : []) {
    if (typeof message?.content === 'string') total += message.content.split(/\s+/).filter(Boolean).length;
  }
  return total;
}

function stream(req, res, body, arrivedAt) {
  const id = `chatcmpl-fake${++seq}`;
  const created = Math.floor(Date.now() / 1000);
  const model = typeof body.model === 'string' ? body.model : 'fake-model-1';
  const includeUsage = body.stream_options?.include_usage === true;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const tag = typeof lastUser?.content === 'string' ? /\[bench ([^\]]+)\]/.exec(lastUser.content)?.[1] : undefined;
  const timing = tag ? { tag, messages: messages.length, arrivedAt, headersAt: 0, firstTokenAt: 0 } : undefined;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(chunk(id, created, model, { role: 'assistant', content: '', refusal: null }, null, includeUsage));
  if (timing) timing.headersAt = now();
  streamsOpen++;
  let sent = 0;
  let timer;
  const finish = () => {
    clearTimeout(timer);
    streamsOpen--;
  };
  res.on('close', () => {
    if (!res.writableFinished) finish();
  });
  const next = () => {
    if (res.destroyed) return;
    if (sent < TOKENS) {
      res.write(chunk(id, created, model, { content: words[sent] }, null, includeUsage));
      if (sent === 0 && timing) {
        timing.firstTokenAt = now();
        timings.push(timing);
      }
      sent++;
      timer = setTimeout(next, INTERVAL_MS);
      return;
    }
    let tail = chunk(id, created, model, {}, 'stop', includeUsage);
    if (includeUsage) {
      const input = inputWords(messages);
      tail += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage: { prompt_tokens: input, completion_tokens: TOKENS, total_tokens: input + TOKENS } })}\n\n`;
    }
    tail += 'data: [DONE]\n\n';
    streamsCompleted++;
    finish();
    res.end(tail);
  };
  timer = setTimeout(next, INTERVAL_MS);
}

const server = http.createServer((req, res) => {
  const arrivedAt = now();
  const path = (req.url ?? '/').split('?')[0];
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && path === '/bench/stats') {
      const body = JSON.stringify({ chatRequests, streamsOpen, streamsCompleted, timings });
      timings = [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model-1', object: 'model', created: 1_700_000_000, owned_by: 'fake' }] }));
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found', type: 'not_found_error' } }));
      return;
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'invalid JSON body' } }));
      return;
    }
    chatRequests++;
    if (body.stream !== true) {
      const text = words.join('');
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: `chatcmpl-fake${++seq}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: inputWords(body.messages), completion_tokens: TOKENS, total_tokens: inputWords(body.messages) + TOKENS },
        }),
      );
      return;
    }
    stream(req, res, body, arrivedAt);
  });
  res.on('error', () => undefined);
});
server.keepAliveTimeout = 75_000;
server.on('connection', (socket) => socket.on('error', () => undefined));
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
