/**
 * Chat load benchmark: USERS (100) concurrent users, each with their own API key,
 * provider connection, agents and conversation, chatting through a real Bastion
 * process with a fake OpenAI-compatible provider in its own process that streams 100
 * tokens at 20 ms intervals for every request (bench/servers/fake-llm-server.mjs).
 * Each user loops: POST /api/v1/conversations/:id/messages with
 * `Accept: text/event-stream`, read the events to `done`, repeat, until the phase ends.
 *
 * Phases (BENCH_SECONDS each, default 20; the baseline at most 60 s):
 *  0. baseline: the same USERS-way loop directly against the fake provider: its own
 *     time to first token (TTFT) and throughput, measured in this run;
 *  1. Bastion, answers streamed from the provider (agent temperature 0.7, so never
 *     cached; the conversation history grows as in a real chat);
 *  2. Bastion, response-cache hits (agent temperature 0, the same question each time in
 *     a new conversation, after one warm-up answer per user fills the cache), paced:
 *     each user asks once every 2 s, the rate of phase 1, so TTFT is comparable;
 *  2b. the same, flat out (each user asks again as soon as the answer is done; at most
 *     60 s): the most cached answers/s this machine gets;
 *  3. a short CPU profile of Bastion (restarted with --cpu-prof) under phase-1 load.
 * Bastion's RSS (VmRSS from /proc) is sampled every BENCH_RSS_INTERVAL_MS (2 s) over
 * phases 1 to 2b (one process). A tag in each question lets the fake record when the
 * request reached it, which splits Bastion's TTFT into "before the provider call",
 * "provider" and "relay of the first token".
 *
 *   npm run bench:chat                                   # embedded PGlite + in-memory store
 *   DATABASE_URL=postgres://… REDIS_URL=redis://… npm run bench:chat
 *   BENCH_SECONDS=300 DATABASE_URL=… REDIS_URL=… npm run bench:chat   # memory stability
 * (DATABASE_URL names the admin database: the run creates `<it>_chat` and drops it at the end.)
 *
 * Results: bench/results/chat-<postgres|embedded>[-<N>s].md (the suffix when
 * BENCH_SECONDS is not the default). Everything listens on 127.0.0.1; every phase is
 * bounded (BENCH_SECONDS plus at most DRAIN_MS for answers in flight).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { Agent, request } from 'undici';
import { loadConfig } from '../server/src/config/index.js';
import { SCOPES } from '../server/src/principal.js';
import { createLogger } from '../server/src/platform/log.js';
import { generateApiKey } from '../server/src/modules/api-keys/key-format.js';
import { insertApiKey } from '../server/src/modules/api-keys/repo.js';
import { hashPassword } from '../server/src/modules/auth/passwords.js';
import { insertUser } from '../server/src/modules/users/repo.js';
import { openDatabase } from '../server/src/platform/db/database.js';
import { migrate } from '../server/src/platform/db/migrator.js';
import { dropDatabase, freshDatabase } from './lib/database.js';
import { cores } from './lib/machine.js';
import { summariseProfile } from './lib/profile.js';
import { ROOT, tempDir, writeResult } from './lib/paths.js';
import { startNode, stop, waitUp } from './lib/processes.js';
import { percentile } from './lib/stats.js';

const DEFAULT_SECONDS = 20;
const SECONDS = Number(process.env.BENCH_SECONDS ?? DEFAULT_SECONDS);
const USERS = Number(process.env.BENCH_USERS ?? 100);
const BASELINE_SECONDS = Math.min(SECONDS, 60);
const PROFILE_SECONDS = Math.min(SECONDS, 10);
const FLAT_OUT_SECONDS = Math.min(SECONDS, 60);
const RSS_INTERVAL_MS = Number(process.env.BENCH_RSS_INTERVAL_MS ?? 2_000);
const TOKENS = 100;
const TOKEN_INTERVAL_MS = 20;
/** Users start one every RAMP_MS / USERS so they do not all ask at the same instant; the window opens after the ramp. */
const RAMP_MS = TOKENS * TOKEN_INTERVAL_MS;
/** Answers still in flight when the window closes get this long to finish, then are aborted. */
const DRAIN_MS = 30_000;
const FAKE_PORT = 3930;
const PORT = 3931;
const FAKE = `http://127.0.0.1:${FAKE_PORT}`;
const BASTION = `http://127.0.0.1:${PORT}`;
/** DATABASE_URL names the admin database: the run gets a database of its own beside it (dropped at the end). */
const ADMIN_DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
if (Boolean(ADMIN_DATABASE_URL) !== Boolean(REDIS_URL)) throw new Error('set both DATABASE_URL and REDIS_URL (PostgreSQL + Redis), or neither (embedded PGlite + memory store)');
const DATABASE_URL = ADMIN_DATABASE_URL ? await freshDatabase(ADMIN_DATABASE_URL, 'chat') : undefined;
if (!Number.isFinite(SECONDS) || SECONDS < 5 || SECONDS > 3_600) throw new Error('BENCH_SECONDS must be between 5 and 3600');
const BACKEND = DATABASE_URL ? 'postgres' : 'embedded';
const RUN = Date.now().toString(36);
const SYSTEM_PROMPT = 'You are a helpful assistant for the Bastion load test. Answer briefly.';
const CACHED_QUESTION = 'What are the opening hours of the support desk?';
const question = (tag: string, n: number) => `[bench ${tag}] Question ${n + 1}: tell me something about the history of the printing press.`;
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const epoch = (t: number) => performance.timeOrigin + t;

// ---------------------------------------------------------------- processes

/** Up once it answers 2xx; Bastion may take a while to migrate PGlite on a cold start. */
const waitReady = (url: string) => waitUp(url, { attempts: 240, ready: (status) => status >= 200 && status < 300 });

const dataDir = tempDir('bastion-bench-chat-');
const profileDir = path.join(dataDir, 'profile');
const bastionLog = path.join(dataDir, 'bastion.log');
const env: Record<string, string> = {
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  PORT: String(PORT),
  LOG_LEVEL: 'warn',
  REQUIRE_MFA: 'none',
  REGISTRATION: 'closed',
  OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*',
  RATE_LIMIT_SCALE: '1000',
  LLM_CACHE_TTL_SECONDS: String(Math.max(900, SECONDS * 4)),
  REDIS_KEY_PREFIX: `bench-chat-${RUN}:`,
  ...(DATABASE_URL && REDIS_URL ? { DATABASE_URL, REDIS_URL } : {}),
  ...(process.env.DB_POOL_MAX ? { DB_POOL_MAX: process.env.DB_POOL_MAX } : {}),
};

function startBastion(nodeArgs: string[] = []): ChildProcess {
  const log = fs.openSync(bastionLog, 'a');
  const child = startNode([...nodeArgs, 'dist/entry.js', 'serve'], { cwd: path.join(ROOT, 'server'), env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return child;
}

// ---------------------------------------------------------------- /proc sampling

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine. */
function machineJiffies(): { busy: number; total: number } {
  const values = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

interface RssSample {
  at: number;
  kb: number;
}

class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_INTERVAL_MS);
  }
  sample(): void {
    const kb = rssKb(this.pid);
    if (Number.isFinite(kb)) this.samples.push({ at: performance.now(), kb });
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
  between(from: number, to: number): RssSample[] {
    return this.samples.filter((s) => s.at >= from && s.at <= to);
  }
}

/** utime + stime of every PostgreSQL and Redis process on the machine by pid, in seconds. */
function servicesCpuSeconds(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm === 'postgres' || comm.startsWith('redis-server')) byPid.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // gone
    }
  }
  return byPid;
}

/** CPU seconds PostgreSQL and Redis spent between two snapshots (processes that exited in between are missed). */
function servicesDelta(start: Map<number, number>, end: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of end) total += Math.max(0, seconds - (start.get(pid) ?? 0));
  return total;
}

interface CpuSnapshot {
  at: number;
  bastion: number;
  fake: number;
  self: number;
  services: Map<number, number>;
  machine: { busy: number; total: number };
}

let bastionPid = 0;
let fakePid = 0;
function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  return { at: performance.now(), bastion: bastionPid ? cpuSeconds(bastionPid) : NaN, fake: cpuSeconds(fakePid), self: (usage.user + usage.system) / 1e6, services: servicesCpuSeconds(), machine: machineJiffies() };
}

/** PostgreSQL's own counters for the bench database (statements in autocommit are one transaction each). */
interface PgCounters {
  xacts: number;
  inserted: number;
  updated: number;
}
const pgStats = DATABASE_URL ? new pg.Client({ connectionString: DATABASE_URL }) : undefined;
async function pgCounters(): Promise<PgCounters | undefined> {
  if (!pgStats) return undefined;
  await new Promise((r) => setTimeout(r, 1_500)); // backends flush their statistics about once a second
  await pgStats.query('select pg_stat_clear_snapshot()');
  const { rows } = await pgStats.query<{ xact_commit: string; tup_inserted: string; tup_updated: string }>('select xact_commit, tup_inserted, tup_updated from pg_stat_database where datname = current_database()');
  const row = rows[0]!;
  return { xacts: Number(row.xact_commit), inserted: Number(row.tup_inserted), updated: Number(row.tup_updated) };
}
const perExchange = (before: PgCounters | undefined, after: PgCounters | undefined, phase: Phase) =>
  before && after
    ? `${((after.xacts - before.xacts) / phase.exchanges).toFixed(1)} transactions, ${((after.inserted - before.inserted) / phase.exchanges).toFixed(1)} rows inserted, ${((after.updated - before.updated) / phase.exchanges).toFixed(1)} rows updated per exchange`
    : '';

// ---------------------------------------------------------------- phases

interface Phase {
  label: string;
  seconds: number;
  /** performance.now() of the window: after the ramp, for `seconds`. */
  windowStart: number;
  windowEnd: number;
  ttft: number[];
  /** Send → done, for answers completed without error. */
  total: number[];
  exchanges: number;
  completedInWindow: number;
  tokensInWindow: number;
  errors: Map<string, number>;
  /** tag → epoch ms of send and first token at the client, for the breakdown with the fake's timings. */
  sends: Map<string, { sentAt: number; firstAt: number }>;
  abort: AbortController;
  cpu: { start?: CpuSnapshot; end?: CpuSnapshot };
  loopDelayP99Ms: number;
}

function newPhase(label: string, seconds: number): Phase {
  const now = performance.now();
  const abort = new AbortController();
  setMaxListeners(USERS * 2 + 10, abort.signal); // every request in flight listens to it
  return {
    label,
    seconds,
    windowStart: now + RAMP_MS,
    windowEnd: now + RAMP_MS + seconds * 1_000,
    ttft: [],
    total: [],
    exchanges: 0,
    completedInWindow: 0,
    tokensInWindow: 0,
    errors: new Map(),
    sends: new Map(),
    abort,
    cpu: {},
    loopDelayP99Ms: NaN,
  };
}

function fail(phase: Phase, kind: string): void {
  phase.errors.set(kind, (phase.errors.get(kind) ?? 0) + 1);
}

const dispatcher = new Agent({ connections: USERS + 20, keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });

/**
 * Runs `exchange` in a loop for each user until the window closes; users start
 * RAMP_MS / USERS apart. With `paceMs`, a user asks at most once per paceMs. An
 * exchange may return a Retry-After (ms) that the user honours before asking again.
 */
async function runPhase(phase: Phase, exchange: (user: number, n: number) => Promise<number | void>, paceMs = 0): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const timers = [
    setTimeout(() => {
      phase.cpu.start = cpuSnapshot();
      loop.enable();
    }, phase.windowStart - performance.now()),
    setTimeout(() => {
      phase.cpu.end = cpuSnapshot();
      loop.disable();
    }, phase.windowEnd - performance.now()),
    setTimeout(() => phase.abort.abort(new Error('drain timeout')), phase.windowEnd + DRAIN_MS - performance.now()),
  ];
  await Promise.all(
    Array.from({ length: USERS }, async (_, user) => {
      await new Promise((r) => setTimeout(r, (user * RAMP_MS) / USERS));
      for (let n = 0; performance.now() < phase.windowEnd && !phase.abort.signal.aborted; n++) {
        const cycleStart = performance.now();
        try {
          const retryAfter = (await exchange(user, n)) ?? 0;
          const wait = Math.min(cycleStart + Math.max(paceMs, retryAfter), phase.windowEnd) - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        } catch (error) {
          fail(phase, `client: ${(error as { code?: string }).code ?? (error as Error).message}`);
          if (phase.abort.signal.aborted) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  timers.forEach(clearTimeout);
  phase.cpu.end ??= cpuSnapshot();
  phase.loopDelayP99Ms = loop.percentile(99) / 1e6;
}

interface StreamOutcome {
  firstAt?: number;
  doneAt?: number;
  /** Error kinds seen (empty: a complete answer). */
  problems: string[];
}

/** Reads an SSE body; `classify` sees each event block and returns 'token', 'end', a problem string or undefined. */
async function readEvents(phase: Phase, body: AsyncIterable<string>, classify: (block: string) => 'token' | 'end' | string | undefined): Promise<StreamOutcome> {
  const outcome: StreamOutcome = { problems: [] };
  let buffer = '';
  let ended = false;
  for await (const chunk of body) {
    const t = performance.now();
    buffer += chunk;
    for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const kind = classify(block);
      if (kind === 'token') {
        outcome.firstAt ??= t;
        if (t >= phase.windowStart && t <= phase.windowEnd) phase.tokensInWindow++;
      } else if (kind === 'end') {
        ended = true;
        outcome.doneAt = t;
      } else if (kind !== undefined) outcome.problems.push(kind);
    }
  }
  if (!ended) outcome.problems.push('stream ended without done');
  return outcome;
}

function record(phase: Phase, sentAt: number, outcome: StreamOutcome, tag?: string): void {
  phase.exchanges++;
  for (const problem of outcome.problems) fail(phase, problem);
  const counted = sentAt >= phase.windowStart;
  if (counted && outcome.firstAt !== undefined) phase.ttft.push(outcome.firstAt - sentAt);
  if (counted && tag && outcome.firstAt !== undefined) phase.sends.set(tag, { sentAt: epoch(sentAt), firstAt: epoch(outcome.firstAt) });
  if (outcome.problems.length === 0 && outcome.doneAt !== undefined) {
    if (counted) phase.total.push(outcome.doneAt - sentAt);
    if (outcome.doneAt >= phase.windowStart && outcome.doneAt <= phase.windowEnd) phase.completedInWindow++;
  }
}

/** One streamed completion straight from the fake provider (the body Bastion would send). */
async function providerExchange(phase: Phase, user: number, n: number): Promise<void> {
  const tag = `b${user}-${n}`;
  const body = JSON.stringify({
    model: 'fake-model-1',
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: question(tag, n) },
    ],
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0.7,
    max_tokens: 1024,
  });
  const sentAt = performance.now();
  const response = await request(`${FAKE}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer bench-fake-provider-key' }, body, dispatcher, signal: phase.abort.signal });
  if (response.statusCode !== 200) {
    await response.body.dump();
    record(phase, sentAt, { problems: [`HTTP ${response.statusCode}`] });
    return;
  }
  response.body.setEncoding('utf8');
  const outcome = await readEvents(phase, response.body as AsyncIterable<string>, (block) => {
    if (block === 'data: [DONE]') return 'end';
    if (block.includes('"delta":{"content":"') && !block.includes('"content":""')) return 'token';
    return undefined;
  });
  record(phase, sentAt, outcome, tag);
}

interface BenchUser {
  key: string;
  streamingAgentId: string;
  cachedAgentId: string;
  conversationId: string;
}

/** `HTTP 503 service_unavailable: The server is overloaded…` from an error answer. */
function describeFailure(status: number, text: string): string {
  const code = /"code"\s*:\s*"([^"]+)"/.exec(text)?.[1] ?? '';
  const message = /"message"\s*:\s*"([^"]+)"/.exec(text)?.[1] ?? '';
  return `HTTP ${status} ${code}${message ? `: ${message.slice(0, 60)}` : ''}`.trim();
}

/** Retry-After in ms (0 when absent): a well-behaved client waits that long before asking again. */
function retryAfterMs(headers: Record<string, string | string[] | undefined>): number {
  const value = Number(headers['retry-after']);
  return Number.isFinite(value) && value > 0 ? value * 1000 : 0;
}

async function api<T>(user: { key: string }, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; json: T; text: string; retryAfterMs: number }> {
  const response = await request(`${BASTION}/api/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${user.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    dispatcher,
    ...(signal ? { signal } : {}),
  });
  const text = await response.body.text();
  let json: T;
  try {
    json = JSON.parse(text) as T;
  } catch {
    json = text as T;
  }
  return { status: response.statusCode, json, text, retryAfterMs: retryAfterMs(response.headers) };
}

/** POST …/messages as SSE, read to `done`; returns the Retry-After of a refusal (ms), else 0. */
async function bastionExchange(phase: Phase, user: BenchUser, conversationId: string, content: string, tag?: string): Promise<number> {
  const sentAt = performance.now();
  const response = await request(`${BASTION}/api/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.key}`, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ content }),
    dispatcher,
    signal: phase.abort.signal,
  });
  if (response.statusCode !== 200) {
    const text = await response.body.text().catch(() => '');
    record(phase, sentAt, { problems: [describeFailure(response.statusCode, text)] });
    return retryAfterMs(response.headers);
  }
  response.body.setEncoding('utf8');
  const outcome = await readEvents(phase, response.body as AsyncIterable<string>, (block) => {
    if (block.startsWith('event: delta\n')) return 'token';
    if (block.startsWith('event: done\n')) {
      const done = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { message: { status: string; stopReason: string | null }; error?: { code: string } };
      if (done.message.status !== 'complete') return `answer ${done.message.status} (${done.message.stopReason ?? done.error?.code ?? '?'})`;
      if (done.error) return `done.error ${done.error.code}`;
      return 'end';
    }
    if (block.startsWith('event: error\n')) return `error event ${/"code":"([^"]+)"/.exec(block)?.[1] ?? ''}`.trim();
    return undefined;
  });
  record(phase, sentAt, outcome, tag);
  return 0;
}

interface FakeStats {
  chatRequests: number;
  streamsOpen: number;
  timings: { tag: string; messages: number; arrivedAt: number; firstTokenAt: number }[];
}

async function fakeStats(): Promise<FakeStats> {
  return (await (await fetch(`${FAKE}/bench/stats`)).json()) as FakeStats;
}

/** Joins the client's send/first-token times with the fake's arrival/first-token times. */
interface Matched {
  /** Seconds into the window. */
  at: number;
  /** Messages in the provider request (system + history + question). */
  messages: number;
  ttft: number;
  before: number;
  provider: number;
  relay: number;
}

function breakdown(phase: Phase, stats: FakeStats): { before: number[]; provider: number[]; relay: number[]; matched: Matched[] } {
  const out = { before: [] as number[], provider: [] as number[], relay: [] as number[], matched: [] as Matched[] };
  for (const t of stats.timings) {
    const client = phase.sends.get(t.tag);
    if (!client) continue;
    const row = {
      at: (client.sentAt - epoch(phase.windowStart)) / 1000,
      messages: t.messages,
      ttft: client.firstAt - client.sentAt,
      before: t.arrivedAt - client.sentAt,
      provider: t.firstTokenAt - t.arrivedAt,
      relay: client.firstAt - t.firstTokenAt,
    };
    out.before.push(row.before);
    out.provider.push(row.provider);
    out.relay.push(row.relay);
    out.matched.push(row);
  }
  return out;
}

/** TTFT and the time before the provider call, per group (time slice, history size). */
function groupRows(rows: Matched[], groups: { label: string; test: (m: Matched) => boolean }[]): string[] {
  return groups.map(({ label, test }) => {
    const chosen = rows.filter(test);
    const col = (key: 'ttft' | 'before', p: number) =>
      ms(
        percentile(
          chosen.map((m) => m[key]),
          p,
        ),
      );
    return `| ${label} | ${chosen.length} | ${col('ttft', 50)} | ${col('ttft', 95)} | ${col('before', 50)} | ${col('before', 95)} | ${col('before', 99)} |`;
  });
}

// ---------------------------------------------------------------- statistics and profile

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const mb = (kb: number) => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : '–');
const errorCount = (phase: Phase) => [...phase.errors.values()].reduce((a, b) => a + b, 0);
const errorList = (phase: Phase) => (phase.errors.size === 0 ? 'none' : [...phase.errors].map(([k, v]) => `${v}× ${k}`).join('; '));

/** Least-squares slope of RSS over time, in MB per minute. */
function slopeMbPerMinute(samples: RssSample[]): number {
  if (samples.length < 3) return NaN;
  const xs = samples.map((s) => s.at / 60_000);
  const ys = samples.map((s) => s.kb / 1024);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

// ---------------------------------------------------------------- run

console.log(`chat bench: ${USERS} users, ${SECONDS} s per phase, ${BACKEND} backends, data in ${dataDir}`);
if (!fs.existsSync(path.join(ROOT, 'server', 'dist', 'entry.js'))) throw new Error('server/dist is missing: run `npm run build -w server` first');

// Seed users and API keys directly (one argon2 hash shared by all: nobody signs in).
const keys: string[] = [];
{
  const config = loadConfig(env);
  const database = await openDatabase(config, createLogger('silent'));
  await migrate(database.db);
  const passwordHash = await hashPassword(`bench-${RUN}-unused-password`);
  const now = new Date();
  for (let i = 0; i < USERS; i++) {
    const id = crypto.randomUUID();
    await insertUser(database.db, { id, email: `chat-bench-${RUN}-${i}@example.org`, name: `Chat Bench ${i}`, role: 'member', password_hash: passwordHash, email_verified_at: now, created_at: now });
    const { key, hash, hint } = generateApiKey();
    await insertApiKey(database.db, { id: crypto.randomUUID(), user_id: id, name: 'chat bench', key_hash: hash, hint, scopes: SCOPES.filter((s) => s !== 'admin:write'), allowed_cidrs: [], expires_at: null, created_at: now });
    keys.push(key);
  }
  await database.close();
}

await pgStats?.connect();
const fake = startNode([path.join(ROOT, 'bench/servers/fake-llm-server.mjs'), String(FAKE_PORT), String(TOKENS), String(TOKEN_INTERVAL_MS)], { cwd: process.cwd(), env: process.env });
fakePid = fake.pid!;
await waitReady(`${FAKE}/v1/models`);

let bastion = startBastion();
bastionPid = bastion.pid!;
await waitReady(`${BASTION}/readyz`);
const rss = new RssSampler(bastionPid);
const rssAfterStart = rss.samples[0]!.kb;

// A connection, two agents and a conversation per user, through the API.
const users: BenchUser[] = [];
for (let batch = 0; batch < USERS; batch += 20) {
  users.push(
    ...(await Promise.all(
      keys.slice(batch, batch + 20).map(async (key) => {
        const client = { key };
        const connection = await api<{ id: string }>(client, 'POST', '/provider-connections', { name: 'fake provider', kind: 'openai', baseUrl: `${FAKE}/v1`, apiKey: 'bench-fake-provider-key' });
        if (connection.status !== 201) throw new Error(`provider connection: ${connection.status} ${JSON.stringify(connection.json)}`);
        const agent = (name: string, temperature: number) => api<{ id: string }>(client, 'POST', '/agents', { name, providerConnectionId: connection.json.id, model: 'fake-model-1', systemPrompt: SYSTEM_PROMPT, temperature });
        const streaming = await agent('Bench streaming', 0.7);
        const cached = await agent('Bench cached', 0);
        if (streaming.status !== 201 || cached.status !== 201) throw new Error(`agent: ${streaming.status} ${JSON.stringify(streaming.json)}`);
        const conversation = await api<{ id: string }>(client, 'POST', '/conversations', { agentId: streaming.json.id });
        if (conversation.status !== 201) throw new Error(`conversation: ${conversation.status} ${JSON.stringify(conversation.json)}`);
        return { key, streamingAgentId: streaming.json.id, cachedAgentId: cached.json.id, conversationId: conversation.json.id };
      }),
    )),
  );
}
console.log(`seeded ${users.length} users`);

// 0. The provider on its own, same concurrency.
await fakeStats();
console.log(`baseline: provider direct, ${BASELINE_SECONDS} s`);
const baseline = newPhase('provider direct (baseline)', BASELINE_SECONDS);
await runPhase(baseline, (user, n) => providerExchange(baseline, user, n));
const baselineBreakdown = breakdown(baseline, await fakeStats());

// 1. Bastion, every answer streamed from the provider.
console.log(`phase 1: Bastion, streamed from the provider, ${SECONDS} s`);
const pgBeforeStreaming = await pgCounters();
const streaming = newPhase('Bastion, streamed from the provider', SECONDS);
await runPhase(streaming, (user, n) => bastionExchange(streaming, users[user]!, users[user]!.conversationId, question(`u${user}-${n}`, n), `u${user}-${n}`));
const streamingStats = await fakeStats();
const pgStreaming = perExchange(pgBeforeStreaming, await pgCounters(), streaming);
const streamingBreakdown = breakdown(streaming, streamingStats);

// 2. Bastion, response-cache hits: one warm-up answer per user fills the cache (per workspace), then the same question in a new conversation each time.
console.log('phase 2: cache warm-up');
const warmUp = newPhase('cache warm-up', 1);
await Promise.all(
  users.map(async (user) => {
    const conversation = await api<{ id: string }>(user, 'POST', '/conversations', { agentId: user.cachedAgentId });
    if (conversation.status !== 201) return fail(warmUp, `new conversation ${describeFailure(conversation.status, conversation.text)}`);
    await bastionExchange(warmUp, user, conversation.json.id, CACHED_QUESTION);
  }),
);
const beforeCached = await fakeStats();
const cachedExchange = (phase: Phase) => async (u: number) => {
  const user = users[u]!;
  const conversation = await api<{ id: string }>(user, 'POST', '/conversations', { agentId: user.cachedAgentId }, phase.abort.signal);
  if (conversation.status !== 201) {
    fail(phase, `new conversation ${describeFailure(conversation.status, conversation.text)}`);
    return conversation.retryAfterMs;
  }
  return bastionExchange(phase, user, conversation.json.id, CACHED_QUESTION);
};
console.log(`phase 2: Bastion, response-cache hits, paced like phase 1, ${SECONDS} s`);
const pgBeforeCached = await pgCounters();
const cached = newPhase('Bastion, cache hits, paced (1 question / user / 2 s)', SECONDS);
await runPhase(cached, cachedExchange(cached), RAMP_MS);
const pgCached = perExchange(pgBeforeCached, await pgCounters(), cached);
console.log(`phase 2b: Bastion, response-cache hits, flat out, ${FLAT_OUT_SECONDS} s`);
const flatOut = newPhase('Bastion, cache hits, flat out', FLAT_OUT_SECONDS);
await runPhase(flatOut, cachedExchange(flatOut));
const afterCached = await fakeStats();
const providerCallsDuringCache = afterCached.chatRequests - beforeCached.chatRequests;
rss.stop();
await stop(bastion);

// 3. A short CPU profile of Bastion under phase-1 load (a restarted process, so the figures above are not slowed by the profiler).
console.log(`phase 3: CPU profile, ${PROFILE_SECONDS} s`);
bastion = startBastion(['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
const profiledSpawnAt = performance.now();
bastionPid = bastion.pid!;
await waitReady(`${BASTION}/readyz`);
const profiled = newPhase('Bastion under --cpu-prof', PROFILE_SECONDS);
await runPhase(profiled, (user, n) => bastionExchange(profiled, users[user]!, users[user]!.conversationId, question(`p${user}-${n}`, n)));
await stop(bastion);
await stop(fake);
await dispatcher.close();
await pgStats?.end();
if (ADMIN_DATABASE_URL && DATABASE_URL) await dropDatabase(ADMIN_DATABASE_URL, DATABASE_URL);

// ---------------------------------------------------------------- report

const logLines = fs.existsSync(bastionLog) ? fs.readFileSync(bastionLog, 'utf8').split('\n').filter(Boolean) : [];
const logByMessage = new Map<string, number>();
for (const line of logLines) {
  let key = line.slice(0, 160);
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    key = `level ${entry.level}: ${entry.msg ?? ''}${entry.err?.message ? ` (${entry.err.message.slice(0, 100)})` : ''}`;
  } catch {
    // not JSON
  }
  logByMessage.set(key, (logByMessage.get(key) ?? 0) + 1);
}

const answersPerSecond = (p: Phase) => p.completedInWindow / p.seconds;
const tokensPerSecond = (p: Phase) => p.tokensInWindow / p.seconds;
const cpuShare = (p: Phase, which: 'bastion' | 'fake' | 'self' | 'services') => {
  const { start, end } = p.cpu;
  if (!start || !end) return '–';
  const used = which === 'services' ? servicesDelta(start.services, end.services) : end[which] - start[which];
  return `${((used / ((end.at - start.at) / 1000)) * 100).toFixed(0)}%`;
};
const machineBusy = (p: Phase) => {
  const { start, end } = p.cpu;
  if (!start || !end) return '–';
  return `${(((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) * 100).toFixed(0)}%`;
};
/** Busy time of everything but Bastion, the fake, the load generator, PostgreSQL and Redis (other processes, the kernel), in % of one core. */
const restOfMachine = (p: Phase) => {
  const { start, end } = p.cpu;
  if (!start || !end) return '–';
  const machine = ((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) * cores();
  const seconds = (end.at - start.at) / 1000;
  const ours = (end.fake - start.fake + (end.self - start.self) + servicesDelta(start.services, end.services) + (Number.isFinite(end.bastion - start.bastion) ? end.bastion - start.bastion : 0)) / seconds;
  return `${Math.max(0, (machine - ours) * 100).toFixed(0)}%`;
};
const memory = (p: Phase) => {
  const samples = rss.between(p.windowStart - RAMP_MS, p.windowEnd);
  const half = rss.between(p.windowStart + (p.windowEnd - p.windowStart) / 2, p.windowEnd);
  return {
    start: samples[0]?.kb ?? NaN,
    end: samples.at(-1)?.kb ?? NaN,
    max: Math.max(...samples.map((s) => s.kb)),
    halfStart: half[0]?.kb ?? NaN,
    slope: slopeMbPerMinute(half),
    seconds: p.seconds,
  };
};
const mem1 = memory(streaming);
const mem2 = memory(cached);
const mem3 = memory(flatOut);
const allRss = rss.samples.map((s) => s.kb);
const overhead = [50, 95, 99].map((p) => {
  const provider = percentile(baseline.ttft, p);
  const through = percentile(streaming.ttft, p);
  return { p, provider, through, added: through - provider, ratio: through / provider, cachedTtft: percentile(cached.ttft, p), flatOutTtft: percentile(flatOut.ttft, p) };
});
const p95Added = overhead[1]!.added;
const totalErrors = errorCount(streaming) + errorCount(cached) + errorCount(flatOut) + errorCount(warmUp);
/** Change over the second half of the phase by the least-squares trend (robust to GC swings), in % of the RSS at half-time. */
const growthSecondHalf = (m: ReturnType<typeof memory>) => ((m.slope * (m.seconds / 2 / 60) * 1024) / m.halfStart) * 100;
const stableVerdict = (m: ReturnType<typeof memory>) => {
  const change = growthSecondHalf(m);
  if (m.seconds < 120) return `too short to judge (${m.seconds} s); run with BENCH_SECONDS=300`;
  if (Math.abs(change) < 5) return 'stable (trend under ±5% over the second half)';
  return change > 0 ? `growing (trend +${change.toFixed(1)}% over the second half)` : `not growing (trend ${change.toFixed(1)}% over the second half)`;
};
const phaseRow = (p: Phase, extra = '') =>
  `| ${p.label} | ${p.exchanges} | ${answersPerSecond(p).toFixed(1)} | ${tokensPerSecond(p).toFixed(0)} | ${ms(percentile(p.total, 50))} | ${ms(percentile(p.total, 95))} | ${errorCount(p)} | ${errorList(p)}${extra} |`;
const seriesEvery = Math.max(1, Math.round(rss.samples.length / 24));
const startAt = rss.samples[0]?.at ?? 0;

const report = [
  `# Chat benchmark (${new Date().toISOString().slice(0, 10)}, ${cores()} cores, ${BACKEND === 'postgres' ? 'PostgreSQL + Redis' : 'embedded PGlite + in-memory store'}, ${USERS} users, ${SECONDS} s per phase)`,
  '',
  `${USERS} users, each with their own API key, provider connection, agent and conversation, loop: POST /api/v1/conversations/:id/messages (SSE) → read to \`done\` → repeat. The fake provider (bench/servers/fake-llm-server.mjs, own process) streams ${TOKENS} tokens at ${TOKEN_INTERVAL_MS} ms intervals for every request (≈${(TOKENS * TOKEN_INTERVAL_MS) / 1000} s per answer). Users start ${RAMP_MS / USERS} ms apart; figures cover a ${SECONDS} s window after that ${RAMP_MS / 1000} s ramp (the provider baseline ${BASELINE_SECONDS} s). Bastion runs compiled (server/dist, development mode, LOG_LEVEL=warn, RATE_LIMIT_SCALE=1000, DB pool ${env.DB_POOL_MAX ?? 'default 10'}).`,
  '',
  `**The load generator, the fake provider, Bastion${BACKEND === 'postgres' ? ', PostgreSQL and Redis' : ''} share the same ${cores()} cores**: absolute figures are pessimistic; compare with the provider baseline measured in the same run.`,
  '',
  '## Time to first token (ms): Bastion vs the provider directly',
  '',
  'TTFT = from sending the request to receiving the first token (Bastion: the first `delta` event; provider: the first chunk with content). Added = Bastion − provider at the same percentile.',
  '',
  '| percentile | provider direct (baseline) | through Bastion | added by Bastion | ratio | Bastion, cache hit, paced (no provider call) | Bastion, cache hit, flat out |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...overhead.map((o) => `| p${o.p} | ${ms(o.provider)} | ${ms(o.through)} | **${ms(o.added)}** | ${o.ratio.toFixed(2)}× | ${ms(o.cachedTtft)} | ${ms(o.flatOutTtft)} |`),
  '',
  `Samples: ${baseline.ttft.length} provider, ${streaming.ttft.length} Bastion, ${cached.ttft.length} paced and ${flatOut.ttft.length} flat-out cache hits. A cache hit has no provider in the path: its TTFT is all Bastion (paced: at the request rate of the streamed phase; flat out: at saturation, so mostly queueing).`,
  '',
  '### Where Bastion’s TTFT goes (streamed answers, matched with the fake’s own timestamps; clocks of two processes, ±0.1 ms)',
  '',
  '| ms | p50 | p95 | p99 |',
  '|---|---:|---:|---:|',
  `| client → request reaches the provider (Bastion before the call: auth, rate limit, conversation/agent/history reads, message inserts, key decryption, connect) | ${ms(percentile(streamingBreakdown.before, 50))} | ${ms(percentile(streamingBreakdown.before, 95))} | ${ms(percentile(streamingBreakdown.before, 99))} |`,
  `| provider: request → first token written (fake, server side) | ${ms(percentile(streamingBreakdown.provider, 50))} | ${ms(percentile(streamingBreakdown.provider, 95))} | ${ms(percentile(streamingBreakdown.provider, 99))} |`,
  `| first token written by the provider → \`delta\` at the client (Bastion relay) | ${ms(percentile(streamingBreakdown.relay, 50))} | ${ms(percentile(streamingBreakdown.relay, 95))} | ${ms(percentile(streamingBreakdown.relay, 99))} |`,
  `| baseline, client → request reaches the provider | ${ms(percentile(baselineBreakdown.before, 50))} | ${ms(percentile(baselineBreakdown.before, 95))} | ${ms(percentile(baselineBreakdown.before, 99))} |`,
  `| baseline, provider server side | ${ms(percentile(baselineBreakdown.provider, 50))} | ${ms(percentile(baselineBreakdown.provider, 95))} | ${ms(percentile(baselineBreakdown.provider, 99))} |`,
  `| baseline, first token written → received by the client | ${ms(percentile(baselineBreakdown.relay, 50))} | ${ms(percentile(baselineBreakdown.relay, 95))} | ${ms(percentile(baselineBreakdown.relay, 99))} |`,
  '',
  `(${streamingBreakdown.before.length} streamed and ${baselineBreakdown.before.length} baseline answers matched.)`,
  '',
  'The same, streamed answers by time in the window and by the size of the request Bastion sends (system prompt + history of up to 40 messages + the question; it grows as each conversation goes on):',
  '',
  '| group | answers | TTFT p50 | TTFT p95 | before the call p50 | p95 | p99 |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...groupRows(
    streamingBreakdown.matched,
    Array.from({ length: 5 }, (_, i) => {
      const from = (SECONDS / 5) * i;
      const to = (SECONDS / 5) * (i + 1);
      return { label: `${from.toFixed(0)}–${to.toFixed(0)} s`, test: (m: Matched) => m.at >= from && m.at < to };
    }),
  ),
  ...groupRows(streamingBreakdown.matched, [
    { label: '≤ 10 messages', test: (m) => m.messages <= 10 },
    { label: '11–30 messages', test: (m) => m.messages > 10 && m.messages <= 30 },
    { label: '> 30 messages', test: (m) => m.messages > 30 },
  ]),
  '',
  '## Throughput and errors',
  '',
  'Answers/s and tokens/s count what completed (resp. arrived) inside the window. Errors: non-200 answers, `error` events, `done` with a status other than complete, streams without `done`, client/socket errors (the tail drained after the window included).',
  '',
  '| phase | exchanges | answers/s | tokens/s | send → done p50 ms | p95 ms | errors | error kinds |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
  phaseRow(baseline),
  phaseRow(streaming),
  phaseRow(cached),
  phaseRow(flatOut, `; provider calls during both cache phases: ${providerCallsDuringCache} (0 = every answer from the cache)`),
  `| (cache warm-up, one miss per user) | ${warmUp.exchanges} | | | | | ${errorCount(warmUp)} | ${errorList(warmUp)} |`,
  '',
  'Cache phases: each exchange also creates its conversation (POST /api/v1/conversations, not timed) so that the cached request (system prompt + the question) is identical; the cache is per workspace, i.e. per user here.',
  ...(pgStreaming ? ['', `PostgreSQL work (pg_stat_database): streamed phase ${pgStreaming}; paced cache phase ${pgCached} (conversation creation included).`] : []),
  '',
  '## CPU during the window (share of one core; the machine has ' + cores() + ')',
  '',
  '| phase | Bastion | fake provider | load generator | PostgreSQL + Redis | everything else | whole machine busy (of all cores) | load generator event-loop p99 ms |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...[baseline, streaming, cached, flatOut, profiled].map(
    (p) =>
      `| ${p.label} | ${p.label.includes('baseline') ? '(idle)' : cpuShare(p, 'bastion')} | ${cpuShare(p, 'fake')} | ${cpuShare(p, 'self')} | ${cpuShare(p, 'services')} | ${restOfMachine(p)} | ${machineBusy(p)} | ${ms(p.loopDelayP99Ms)} |`,
  ),
  '',
  'More than a few % under "everything else" means other work was running on the machine during that phase (the kernel and idle daemons take 1–5%): its latency figures are disturbed.',
  '',
  '## Memory (Bastion RSS, VmRSS sampled every ' + RSS_INTERVAL_MS / 1000 + ' s)',
  '',
  '| phase | start MB | end MB | max MB | second half: trend | slope MB/min | verdict |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...(
    [
      [streaming, mem1],
      [cached, mem2],
      [flatOut, mem3],
    ] as const
  ).map(([p, m]) => `| ${p.label} | ${mb(m.start)} | ${mb(m.end)} | ${mb(m.max)} | ${growthSecondHalf(m).toFixed(1)}% | ${Number.isFinite(m.slope) ? m.slope.toFixed(2) : '–'} | ${stableVerdict(m)} |`),
  '',
  `Whole process: ${mb(rssAfterStart)} MB after start (before seeding through the API), max ${mb(Math.max(...allRss))} MB, ${mb(allRss.at(-1) ?? NaN)} MB at the end of phase 2b.`,
  '',
  `RSS series (s since start: MB): ${rss.samples
    .filter((_, i) => i % seriesEvery === 0)
    .map((s) => `${((s.at - startAt) / 1000).toFixed(0)}: ${mb(s.kb)}`)
    .join(', ')}`,
  '',
  '## Goal: p95 overhead under 25 ms, no errors, memory stable',
  '',
  `- p95 TTFT added by Bastion: **${ms(p95Added)} ms** → ${p95Added < 25 ? 'met' : 'NOT met'} (cache hits at the same rate: p95 TTFT ${ms(percentile(cached.ttft, 95))} ms, no provider in the path).`,
  `- errors: **${totalErrors}** → ${totalErrors === 0 ? 'met' : 'NOT met'}.`,
  `- memory: ${stableVerdict(mem1)} (streamed), ${stableVerdict(mem2)} (cache hits, paced), ${stableVerdict(mem3)} (cache hits, flat out${FLAT_OUT_SECONDS < SECONDS ? `, ${FLAT_OUT_SECONDS} s` : ''}).`,
  '',
  `Bastion log (warn and above, all phases): ${
    logLines.length === 0
      ? 'empty'
      : [...logByMessage]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 8)
          .map(([k, v]) => `${v}× ${k.replace(/bst_[a-z]+_[\w-]{20,}/g, (token) => `${token.slice(0, 10)}…`)}`) // one-time links in the log are secrets
          .join('; ')
  }`,
  '',
  `## Where the time goes (CPU profile of Bastion, ${PROFILE_SECONDS} s of phase-1 load, ${profiled.exchanges} exchanges, ${errorCount(profiled)} errors; self time)`,
  '',
  ...(() => {
    const file = fs.existsSync(profileDir) ? fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    return file ? summariseProfile(path.join(profileDir, file), profiled.windowStart - profiledSpawnAt, profiled.windowEnd - profiledSpawnAt) : ['(no profile written)'];
  })(),
  '',
].join('\n');

const name = `chat-${BACKEND}${SECONDS === DEFAULT_SECONDS ? '' : `-${SECONDS}s`}.md`;
writeResult(name, report);
console.log(report);
if (process.env.BENCH_KEEP_PROFILE) console.log(`profile kept in ${profileDir}`);
else fs.rmSync(dataDir, { recursive: true, force: true });
