/**
 * People using Bastion at once: BENCH_USERS people (10) for BENCH_SECONDS (120) doing what
 * people do, each with a pause of 0.5–1.5 s between steps — open the app (the page and a
 * script of the web app), list conversations, agents and knowledge bases, open a conversation,
 * ask the built-in extractive agent, ask an agent on a provider (a streamed answer from the
 * fake LLM server, 50 tokens at 20 ms), search a knowledge base, and upload a document every
 * few seconds. People arrive over BENCH_RAMP_SECONDS (20), as a team does, not all in the same
 * instant (sign-in under a storm is bench:login's subject). Uploads: BENCH_UPLOADS=team (the
 * default) is one upload every BENCH_UPLOAD_EVERY_SECONDS (3) across the team, made by whoever
 * is next; BENCH_UPLOADS=per-person is one every 5 s by each person (100 people: 20 uploads
 * and some 10,000 chunks a second, far beyond what two cores index: a stress test of the
 * ingestion backlog, not a team). Reports per step: count, p50, p95, max and failures (any answer that is not
 * the expected 2xx, or no answer), the p95 of every step but the LLM ones, and the server's
 * RSS over the run.
 *
 * On the embedded default (PGlite + the in-memory store, load shedding as shipped) unless
 * DATABASE_URL and REDIS_URL are set: then on a database of its own beside the one named and
 * a Redis key prefix of its own. BENCH_RATE_LIMIT_SCALE raises the rate-limit budgets (all
 * the people come from one address here, where real ones would not).
 *
 *   npm run build && npx tsx bench/team.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 BENCH_USERS=100 BENCH_RATE_LIMIT_SCALE=1000 npx tsx bench/team.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../server/src/config/index.js';
import { hashPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { dropDatabase, freshDatabase } from './lib/database.js';
import { createLogger } from '../server/src/platform/log.js';
import { cores, loadAverage } from './lib/machine.js';
import { ROOT, tempDir, writeResult } from './lib/paths.js';
import { assertPortFree, startNode, stop, waitUp } from './lib/processes.js';
import { summariseProfile } from './lib/profile.js';
import { percentile } from './lib/stats.js';

const USERS = Number(process.env.BENCH_USERS ?? '10');
const SECONDS = Number(process.env.BENCH_SECONDS ?? '120');
const PORT = 3961;
const BASE = `http://127.0.0.1:${PORT}`;
const PASSWORD = 'violet tractor sings at dawn';
const FAKE_PORT = 3962;
const RAMP_SECONDS = Number(process.env.BENCH_RAMP_SECONDS ?? '20');
const UPLOADS = process.env.BENCH_UPLOADS === 'per-person' ? 'per-person' : 'team';
const UPLOAD_EVERY_MS = (UPLOADS === 'team' ? Number(process.env.BENCH_UPLOAD_EVERY_SECONDS ?? '3') : 5) * 1000;
const dataDir = tempDir('bastion-bench-team-');
const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
const backend = DATABASE_URL && REDIS_URL ? 'PostgreSQL + Redis' : 'PGlite + the in-memory store';
const teamDatabaseUrl = DATABASE_URL && REDIS_URL ? await freshDatabase(DATABASE_URL, 'team') : undefined;
const METRICS_TOKEN = 'bench-team-metrics-token-0123456789';
const env = {
  DATA_DIR: dataDir,
  METRICS_TOKEN,
  HOST: '127.0.0.1',
  PORT: String(PORT),
  PUBLIC_URL: BASE,
  REGISTRATION: 'closed',
  REQUIRE_MFA: 'none',
  OUTBOUND_ALLOW_PRIVATE_PROVIDERS: `127.0.0.1:${FAKE_PORT}`,
  ...(teamDatabaseUrl ? { DATABASE_URL: teamDatabaseUrl, REDIS_URL, REDIS_KEY_PREFIX: `bastion-bench-team-${process.pid}:` } : {}),
  ...(process.env.BENCH_RATE_LIMIT_SCALE ? { RATE_LIMIT_SCALE: process.env.BENCH_RATE_LIMIT_SCALE } : {}),
  ...(process.env.DB_POOL_MAX ? { DB_POOL_MAX: process.env.DB_POOL_MAX } : {}),
};

if (!fs.existsSync(path.join(ROOT, 'server', 'dist', 'entry.js')) || !fs.existsSync(path.join(ROOT, 'web', 'build', 'index.html'))) throw new Error('bench:team: run npm run build first');
await assertPortFree(PORT);
const script = fs.readdirSync(path.join(ROOT, 'web', 'build', '_app', 'immutable', 'entry')).find((f) => f.endsWith('.js'));
if (!script) throw new Error('no web app script in web/build');

// The people, straight into the database before the server claims DATA_DIR.
const config = loadConfig(env);
const database = await openDatabase(config, createLogger('silent'), { owner: 'command' });
await migrate(database.db);
const hash = await hashPassword(PASSWORD);
const emails = Array.from({ length: USERS }, (_, i) => `teammate${i + 1}@example.org`);
for (const email of emails) await insertUser(database.db, { id: crypto.randomUUID(), email, name: email.split('@')[0]!, role: 'member', password_hash: hash, email_verified_at: new Date(), created_at: new Date() });
await database.close();

// BENCH_PROFILE=1: a CPU profile of the server over the run, summarised after the table.
const profileDir = path.join(dataDir, 'profile');
const profiling = process.env.BENCH_PROFILE === '1';
const fake = startNode(['bench/servers/fake-llm-server.mjs', String(FAKE_PORT), '50', '20']);
await waitUp(`http://127.0.0.1:${FAKE_PORT}/bench/stats`);
const server = startNode([...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), 'dist/entry.js', 'serve'], { env, cwd: path.join(ROOT, 'server') });
await waitUp(`${BASE}/readyz`, { ready: (status) => status === 200 });

interface Sample {
  step: string;
  ms: number;
  ok: boolean;
  status: number;
}
const samples: Sample[] = [];
const failures = new Map<string, number>();
const rss: number[] = [];

/** One HTTP step, timed; `expect` is the status that counts as success. */
async function step(name: string, url: string, init: RequestInit & { expect?: number } = {}): Promise<Response | null> {
  const started = performance.now();
  try {
    const response = await fetch(BASE + url, init);
    const body = await response.arrayBuffer();
    const ok = response.status === (init.expect ?? 200);
    samples.push({ step: name, ms: performance.now() - started, ok, status: response.status });
    if (!ok) {
      const code = /"code":"([a-z_]+)"/.exec(Buffer.from(body).toString('utf8'))?.[1] ?? '';
      const key = `${name} → ${response.status} ${code}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    return ok ? new Response(body, { status: response.status, headers: response.headers }) : null;
  } catch (error) {
    samples.push({ step: name, ms: performance.now() - started, ok: false, status: 0 });
    const key = `${name} → ${(error as Error).message}`;
    failures.set(key, (failures.get(key) ?? 0) + 1);
    return null;
  }
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 1000));
/** A note of about 5 KB, and every fourth upload a handbook of about 1 MB (some 2,000 chunks to ingest). */
const DOCUMENT = (n: number, who: string) =>
  [`# Notes ${n} of ${who}`, '', ...Array.from({ length: n % 4 === 0 ? 8_000 : 40 }, (_, i) => `Paragraph ${i}: the harbour office opens at ${7 + (i % 4)} in the morning; claims are filed within ${20 + (i % 60)} days.`)].join('\n\n');

/** The team's next upload: whoever's turn comes first after this time makes it. */
let nextTeamUpload = 0;
let teamUploads = 0;
/** Whether this person uploads now (per person: every UPLOAD_EVERY_MS each; team: one every UPLOAD_EVERY_MS in all). */
function uploadTurn(lastUpload: number): boolean {
  const now = Date.now();
  if (UPLOADS === 'per-person') return now - lastUpload > UPLOAD_EVERY_MS;
  if (now < nextTeamUpload) return false;
  nextTeamUpload = now + UPLOAD_EVERY_MS;
  return true;
}

async function person(email: string, index: number, until: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, (RAMP_SECONDS * 1000 * index) / USERS));
  const signIn = await step('sign in', '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json', origin: BASE }, body: JSON.stringify({ email, password: PASSWORD }) });
  const cookie = (signIn?.headers.get('set-cookie') ?? '').split(';')[0]!;
  const csrfAnswer = await step('GET /auth/csrf', '/api/v1/auth/csrf', { headers: { cookie } });
  const csrf = ((await csrfAnswer?.json()) as { token: string } | undefined)?.token ?? '';
  const headers = { cookie, origin: BASE, 'x-csrf-token': csrf };
  const json = { ...headers, 'content-type': 'application/json' };
  // Their own knowledge base, agent and conversation.
  const base = (await (await step('create knowledge base', '/api/v1/knowledge-bases', { method: 'POST', headers: json, body: JSON.stringify({ name: 'Notes' }), expect: 201 }))?.json()) as { id: string } | undefined;
  const agent = (await (await step('create agent', '/api/v1/agents', { method: 'POST', headers: json, body: JSON.stringify({ name: 'Helper', knowledgeBaseIds: base ? [base.id] : [] }), expect: 201 }))?.json()) as { id: string } | undefined;
  const conversation = (await (await step('create conversation', '/api/v1/conversations', { method: 'POST', headers: json, body: JSON.stringify({ agentId: agent?.id }), expect: 201 }))?.json()) as { id: string } | undefined;
  const connection = (await (
    await step('create provider connection', '/api/v1/provider-connections', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'fake', kind: 'openai', baseUrl: `http://127.0.0.1:${FAKE_PORT}/v1`, apiKey: 'bench-fake-provider-key', skipTest: true }),
      expect: 201,
    })
  )?.json()) as { id: string } | undefined;
  const streamer = (await (
    await step('create agent', '/api/v1/agents', { method: 'POST', headers: json, body: JSON.stringify({ name: 'Streamer', providerConnectionId: connection?.id, model: 'fake-model', temperature: 0.7 }), expect: 201 })
  )?.json()) as { id: string } | undefined;
  const streamed = (await (await step('create conversation', '/api/v1/conversations', { method: 'POST', headers: json, body: JSON.stringify({ agentId: streamer?.id }), expect: 201 }))?.json()) as { id: string } | undefined;
  let uploads = 0;
  let lastUpload = 0;
  while (Date.now() < until) {
    await pause();
    if (base && uploadTurn(lastUpload)) {
      lastUpload = Date.now();
      uploads++;
      // Per person, every fourth of theirs is a handbook; for the team, every fourth of the team's.
      const n = UPLOADS === 'team' ? ++teamUploads : uploads;
      const form = new FormData();
      form.append('file', new Blob([DOCUMENT(n, email)], { type: 'text/markdown' }), `notes-${index}-${uploads}.md`);
      await step('upload a document', `/api/v1/knowledge-bases/${base.id}/documents`, { method: 'POST', headers, body: form, expect: 202 });
      continue;
    }
    const roll = Math.random();
    if (roll < 0.1) {
      await step('open the app: page', '/chat', { headers: { accept: 'text/html' } });
      await step('open the app: script', `/_app/immutable/entry/${script}`);
    } else if (roll < 0.3) await step('list conversations', '/api/v1/conversations', { headers });
    else if (roll < 0.4) await step('list agents', '/api/v1/agents', { headers });
    else if (roll < 0.5) await step('list knowledge bases', '/api/v1/knowledge-bases', { headers });
    else if (roll < 0.65 && conversation) await step('open a conversation', `/api/v1/conversations/${conversation.id}/messages`, { headers });
    else if (roll < 0.72 && streamed) await stream(streamed.id, json);
    else if (roll < 0.8 && conversation)
      await step('ask (extractive, JSON answer)', `/api/v1/conversations/${conversation.id}/messages`, { method: 'POST', headers: json, body: JSON.stringify({ content: 'When does the harbour office open?' }), expect: 201 });
    else if (base) await step('search a knowledge base', `/api/v1/knowledge-bases/${base.id}/search`, { method: 'POST', headers: json, body: JSON.stringify({ query: 'harbour office opening hours' }) });
  }
}

/** A streamed answer from the fake provider: time to the first token and to the end, as two steps. */
async function stream(conversationId: string, headers: Record<string, string>): Promise<void> {
  const started = performance.now();
  try {
    const response = await fetch(`${BASE}/api/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { ...headers, accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'Tell me about the harbour.' }),
    });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    let first = 0;
    let text = '';
    const decoder = new TextDecoder();
    for await (const part of response.body) {
      text += decoder.decode(part as Uint8Array, { stream: true });
      if (!first && text.includes('event: delta')) first = performance.now();
    }
    const ok = text.includes('event: done') && !text.includes('event: error');
    samples.push({ step: 'LLM: chat, first token (streamed)', ms: (first || performance.now()) - started, ok, status: response.status });
    samples.push({ step: 'LLM: chat, whole answer (streamed)', ms: performance.now() - started, ok, status: response.status });
    if (!ok) failures.set('LLM: chat → stream without done', (failures.get('LLM: chat → stream without done') ?? 0) + 1);
  } catch (error) {
    samples.push({ step: 'LLM: chat, whole answer (streamed)', ms: performance.now() - started, ok: false, status: 0 });
    const key = `LLM: chat → ${(error as Error).message}`;
    failures.set(key, (failures.get(key) ?? 0) + 1);
  }
}

const startedAt = new Date();
const loadBefore = loadAverage();
const until = Date.now() + SECONDS * 1000;
const sampler = setInterval(() => {
  try {
    const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8');
    rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    // gone
  }
}, 1_000);
// The JavaScript heap in use (after the last GC, as prom-client reads it), every 10 s: tells a heap that grows from memory that does not return.
const heap: number[] = [];
const heapSampler = setInterval(() => {
  void fetch(`${BASE}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    .then((answer) => answer.text())
    .then((text) => heap.push(Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 1024 / 1024))
    .catch(() => undefined);
}, 10_000);
await Promise.all(emails.map((email, i) => person(email, i, until)));
clearInterval(heapSampler);
clearInterval(sampler);
const loadAfter = loadAverage();
await stop(server);
await stop(fake);
if (DATABASE_URL && teamDatabaseUrl) await dropDatabase(DATABASE_URL, teamDatabaseUrl);
const profile = profiling ? fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
const profileSummary = profile ? summariseProfile(path.join(profileDir, profile)) : [];
fs.rmSync(dataDir, { recursive: true, force: true });

const steps = [...new Set(samples.map((s) => s.step))];
const nonLlm = samples.filter((s) => !s.step.startsWith('LLM:')).map((s) => s.ms);
const total = samples.length;
const failed = samples.filter((s) => !s.ok).length;
const half = Math.floor(rss.length / 2);
const at = (series: number[]) => [0.5, 0.75, 1].map((share) => series[Math.min(series.length - 1, Math.floor(share * series.length))]?.toFixed(0) ?? '?').join(', ');
const slow = steps.filter(
  (name) =>
    !name.startsWith('LLM:') &&
    percentile(
      samples
        .filter((s) => s.step === name)
        .map((s) => s.ms)
        .sort((a, b) => a - b),
      95,
    ) > 150,
);
const report = [
  `# ${USERS} people at once on ${backend} (${startedAt.toISOString().slice(0, 10)}, ${cores()} cores, load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after)`,
  '',
  `- command: \`${teamDatabaseUrl ? 'DATABASE_URL=… REDIS_URL=… ' : ''}BENCH_USERS=${USERS} BENCH_SECONDS=${SECONDS} BENCH_RAMP_SECONDS=${RAMP_SECONDS} BENCH_UPLOADS=${UPLOADS}${UPLOADS === 'team' ? ` BENCH_UPLOAD_EVERY_SECONDS=${UPLOAD_EVERY_MS / 1000}` : ''}${env.RATE_LIMIT_SCALE ? ` BENCH_RATE_LIMIT_SCALE=${env.RATE_LIMIT_SCALE}` : ''}${env.DB_POOL_MAX ? ` DB_POOL_MAX=${env.DB_POOL_MAX}` : ''} npx tsx bench/team.ts\` (after \`npm run build\`), started ${startedAt.toISOString()}`,
  `- Bastion \`serve\` on ${backend}, shipped defaults otherwise (load shedding on), ${USERS} people arriving over ${RAMP_SECONDS} s, ${SECONDS} s, a pause of 0.5–1.5 s between steps, ${UPLOADS === 'team' ? `one upload every ${UPLOAD_EVERY_MS / 1000} s or so across the team` : 'an upload every 5 s or so per person'} (a 5 KB Markdown note; every fourth a 1 MB handbook), streamed answers from the fake LLM server (50 tokens at 20 ms)`,
  `- p95 of every step but the LLM ones: ${percentile(nonLlm, 95).toFixed(1)} ms (${nonLlm.length} requests); steps whose own p95 is over 150 ms: ${slow.length > 0 ? slow.join(', ') : 'none'}`,
  `- requests: ${total}, failed: ${failed} (${((failed / Math.max(total, 1)) * 100).toFixed(2)}%); server RSS first half max ${Math.max(...rss.slice(0, half)).toFixed(0)} MB, second half max ${Math.max(...rss.slice(half)).toFixed(0)} MB; at 50%, 75% and 100% of the run ${at(rss)} MB; JavaScript heap in use then ${at(heap)} MB`,
  '',
  '| step | count | p50 ms | p95 ms | max ms | failed |',
  '|---|---:|---:|---:|---:|---:|',
  ...steps.map((name) => {
    const of = samples.filter((s) => s.step === name);
    const ms = of.map((s) => s.ms).sort((a, b) => a - b);
    return `| ${name} | ${of.length} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 95).toFixed(1)} | ${ms.at(-1)!.toFixed(1)} | ${of.filter((s) => !s.ok).length} |`;
  }),
  '',
  ...(failures.size > 0 ? ['Failures:', '', ...[...failures].map(([what, n]) => `- ${n} × ${what}`), ''] : []),
  ...(profileSummary.length > 0 ? ['## Where the server spent its time (CPU profile of the run)', '', ...profileSummary, ''] : []),
].join('\n');
writeResult(teamDatabaseUrl ? `team-postgres-${USERS}.md` : 'team-embedded.md', report);
console.log(report);
