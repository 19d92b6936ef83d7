/**
 * The clients of the fault suite: streamed chats and uploads against both API instances,
 * each outcome classified by what the client saw. The rule under test: a client sees a
 * JSON error envelope, or an event stream that ends with `done` or `error` — never a bare
 * 500, a body that is not the envelope, or a stream that just stops.
 */
import { randomBytes } from 'node:crypto';

export interface Outcomes {
  chats: number;
  uploads: number;
  /** Chats whose stream ended with `done` and a complete answer. */
  done: number;
  /** Error codes seen, from envelopes and terminal `error` events. */
  errors: Record<string, number>;
  /** Connections refused or reset: an instance that was killed or stopped listening. */
  connection: number;
  /**
   * Of those, event streams broken after their response had started (the writer died
   * mid-stream). Unavoidable for a kill -9; a graceful stop must finish them instead.
   */
  midStream: number;
  /** Event streams under way right now (a first event received, no terminal one yet), by instance URL. */
  streaming: Record<string, number>;
  /** What the rule forbids, with a description each. */
  violations: string[];
  /** Documents the API accepted (202). */
  documents: string[];
}

export function newOutcomes(): Outcomes {
  return { chats: 0, uploads: 0, done: 0, errors: {}, connection: 0, midStream: 0, streaming: {}, violations: [], documents: [] };
}

function count(outcomes: Outcomes, code: string): void {
  outcomes.errors[code] = (outcomes.errors[code] ?? 0) + 1;
}

/** A failed fetch: refused or reset connections are the killed instance's, counted apart. */
function network(outcomes: Outcomes, error: unknown, what: string): void {
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
  if (['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'].includes(cause) || /terminated|other side closed/i.test(String((error as Error).message))) outcomes.connection++;
  else outcomes.violations.push(`${what}: ${cause} ${(error as Error).message}`);
}

/** An error response must be the envelope with a code; 500s are violations however well formed. */
async function errorResponse(outcomes: Outcomes, response: Response, what: string): Promise<void> {
  const text = await response.text();
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    if (typeof code !== 'string') throw new Error('no code');
    if (response.status >= 500 && response.status !== 503 && response.status !== 507 && response.status !== 502 && response.status !== 504) outcomes.violations.push(`${what}: ${response.status} ${code}`);
    count(outcomes, `${response.status} ${code}`);
  } catch {
    outcomes.violations.push(`${what}: ${response.status} with a body that is not the error envelope: ${text.slice(0, 200)}`);
  }
}

export class Client {
  constructor(
    readonly key: string,
    readonly agentId: string,
    readonly baseId: string,
    /** A shared workspace the agent and base belong to; the caller's personal one when absent. */
    readonly workspaceId?: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...(this.workspaceId ? { 'x-workspace-id': this.workspaceId } : {}), ...extra };
  }

  /** A new conversation and one streamed question in it, read to its end. */
  async chat(base: string, outcomes: Outcomes): Promise<void> {
    outcomes.chats++;
    const what = `chat via ${base}`;
    try {
      const conversation = await fetch(`${base}/api/v1/conversations`, { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ agentId: this.agentId }), signal: AbortSignal.timeout(30_000) });
      if (conversation.status !== 201) return errorResponse(outcomes, conversation, `${what} (conversation)`);
      const { id } = (await conversation.json()) as { id: string };
      const response = await fetch(`${base}/api/v1/conversations/${id}/messages`, {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
        body: JSON.stringify({ content: `Tell me something ${randomBytes(4).toString('hex')}` }),
        signal: AbortSignal.timeout(120_000),
      });
      if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
        if (response.ok) outcomes.violations.push(`${what}: ${response.status} without an event stream`);
        else await errorResponse(outcomes, response, what);
        return;
      }
      await this.readStream(response, outcomes, what, base);
    } catch (error) {
      network(outcomes, error, what);
    }
  }

  private async readStream(response: Response, outcomes: Outcomes, what: string, base: string): Promise<void> {
    let buffer = '';
    let terminal: string | undefined;
    let live = false;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        if (!live && terminal === undefined) {
          live = true;
          outcomes.streaming[base] = (outcomes.streaming[base] ?? 0) + 1;
        }
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (event === 'done') {
            // A terminal answer: complete, or finished early (incomplete / failed) with its reason.
            const done = JSON.parse(data ?? '{}') as { message?: { status?: string }; error?: { code?: string } };
            terminal = done.message?.status === 'complete' ? 'done' : `answer ${done.message?.status ?? '?'} ${done.error?.code ?? ''}`.trim();
          }
          if (event === 'error') terminal = `stream ${(JSON.parse(data ?? '{}') as { code?: string }).code ?? '?'}`;
        }
      }
    } catch (error) {
      if (live) outcomes.streaming[base]!--;
      live = false;
      // The connection broke mid-stream: the instance died (counted apart), not a silent end.
      if (terminal === undefined) {
        const before = outcomes.connection;
        network(outcomes, error, `${what} (mid-stream)`);
        if (outcomes.connection > before) outcomes.midStream++;
        return;
      }
    }
    if (live) outcomes.streaming[base]!--;
    if (terminal === 'done') outcomes.done++;
    else if (terminal) count(outcomes, terminal);
    else outcomes.violations.push(`${what}: the stream ended without a done or error event`);
  }

  /** A small text document with unique content; its id is kept when accepted. */
  async upload(base: string, outcomes: Outcomes): Promise<void> {
    outcomes.uploads++;
    const what = `upload via ${base}`;
    const marker = randomBytes(6).toString('hex');
    const text = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} about ${marker}. The quick brown fox jumps over the lazy dog near ${marker}.`).join('\n\n');
    const form = new FormData();
    form.append('file', new Blob([text], { type: 'text/plain' }), `notes-${marker}.txt`);
    try {
      const response = await fetch(`${base}/api/v1/knowledge-bases/${this.baseId}/documents`, { method: 'POST', headers: this.headers(), body: form, signal: AbortSignal.timeout(30_000) });
      if (response.status === 202) outcomes.documents.push(((await response.json()) as { id: string }).id);
      else await errorResponse(outcomes, response, what);
    } catch (error) {
      network(outcomes, error, what);
    }
  }
}

/**
 * Keeps `concurrency` chat loops and one upload loop running over both instances until
 * `stop` is called; resolves when the last request in flight has finished.
 */
export function drive(client: Client, urls: readonly string[], outcomes: Outcomes, options: { concurrency: number; uploadEveryMs: number }): { stop(): Promise<void> } {
  let running = true;
  let turn = 0;
  const next = () => urls[turn++ % urls.length]!;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const loops = Array.from({ length: options.concurrency }, async () => {
    while (running) {
      const before = outcomes.done;
      await client.chat(next(), outcomes);
      await pause(outcomes.done > before ? 50 : 250); // back off a little after a failure, as a client would
    }
  });
  loops.push(
    (async () => {
      while (running) {
        await client.upload(next(), outcomes);
        await pause(options.uploadEveryMs);
      }
    })(),
  );
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}
