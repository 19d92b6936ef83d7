/**
 * The embedded database in a worker thread (server/workers/pglite.mjs).
 *
 * Why: PGlite runs PostgreSQL in WebAssembly on the thread that calls it. In process, every
 * statement held the HTTP event loop for as long as it ran: while a large document was
 * indexed, reads and uploads of everyone else waited behind it. In its own thread the
 * statements run beside the event loop; a statement costs a message each way instead.
 *
 * Statements and their values cross by structured clone (strings, numbers, bigints, dates,
 * byte arrays, plain objects), as do rows back. An error comes back as an Error with
 * PostgreSQL's fields (`code`, `constraint`, …). If the thread dies, every statement waiting
 * on it fails with 57P01 (a 503) and the session reports itself `lost`, so the dialect opens
 * a fresh thread on the same files (pglite-dialect.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PGliteSession, SessionResult } from './pglite-dialect.js';

const WORKER = new URL('../../../workers/pglite.mjs', import.meta.url);

interface Reply {
  id?: number;
  ready?: boolean;
  results?: SessionResult[];
  error?: Record<string, unknown> & { message: string };
}

function toError(fields: Reply['error']): Error {
  const { message, name, ...rest } = fields ?? { message: 'embedded database error' };
  return Object.assign(new Error(message), rest, name && name !== 'Error' ? { name } : {});
}

export class PGliteThread implements PGliteSession {
  private readonly pending = new Map<number, { resolve: (results: SessionResult[]) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private ended = false;
  /** The thread stopped without being closed (a crash): nothing more can run on it. */
  lost = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const waiting = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id!);
      if (reply.error) waiting.reject(toError(reply.error));
      else waiting.resolve(reply.results ?? []);
    });
    worker.on('error', () => undefined); // 'exit' follows and fails what waits
    worker.on('exit', () => {
      if (!this.ended) this.lost = true;
      this.ended = true;
      const error = Object.assign(new Error('The embedded database thread stopped; it reopens on the next statement.'), { code: '57P01' });
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    });
  }

  /** Starts a thread and opens the database in `dataDir` there; rejects with the opening error. */
  static async open(dataDir: string): Promise<PGliteThread> {
    if (!existsSync(WORKER)) throw new Error(`The embedded database worker ${fileURLToPath(WORKER)} is missing: deploy server/workers/ beside server/dist/.`);
    const worker = new Worker(WORKER, { workerData: { dataDir } });
    let listeners: { message: (reply: Reply) => void; error: (error: Error) => void; exit: (code: number) => void } | undefined;
    const opened = await new Promise<Reply>((resolve, reject) => {
      listeners = { message: resolve, error: reject, exit: (code) => reject(new Error(`the embedded database thread exited (${code}) while opening`)) };
      worker.once('message', listeners.message).once('error', listeners.error).once('exit', listeners.exit);
    }).finally(() => {
      // Only these: the worker's own listeners (which start its port) must stay.
      worker.off('message', listeners!.message).off('error', listeners!.error).off('exit', listeners!.exit);
    });
    if (!opened.ready) {
      await worker.terminate();
      throw toError(opened.error);
    }
    return new PGliteThread(worker);
  }

  get closed(): boolean {
    return this.ended;
  }

  async query<R>(sql: string, params: unknown[]): Promise<{ rows: R[]; affectedRows?: number }> {
    const [result] = await this.call('query', sql, params);
    return result as { rows: R[]; affectedRows?: number };
  }

  exec(sql: string): Promise<SessionResult[]> {
    return this.call('exec', sql);
  }

  /** Closes the database (a checkpoint) and ends the thread. */
  async close(): Promise<void> {
    if (this.ended) return;
    try {
      await this.call('close');
    } finally {
      this.ended = true;
      await this.worker.terminate();
    }
  }

  /** Ends the thread without closing the database (after a full disk, closing would spin); the files recover from the WAL. */
  async discard(): Promise<void> {
    this.ended = true;
    await this.worker.terminate();
  }

  private call(op: 'query' | 'exec' | 'close', sql?: string, params?: unknown[]): Promise<SessionResult[]> {
    if (this.ended) return Promise.reject(Object.assign(new Error('The embedded database thread has stopped.'), { code: '57P01' }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.worker.postMessage({ id, op, sql, params });
      } catch (error) {
        this.pending.delete(id); // a value that cannot be cloned
        reject(error as Error);
      }
    });
  }
}
