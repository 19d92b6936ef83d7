import { describe, expect, it } from 'vitest';
import { checkFile, parseRetryAfter, retryDelayMs, transient, UploadQueue, type FileLike, type UploadLimits, type UploadRow } from './upload-queue';

const LIMITS: UploadLimits = {
  maxBytes: 26_214_400,
  maxBytesSetting: 'UPLOAD_MAX_BYTES',
  types: [
    { kind: 'txt', extensions: ['txt', 'text'], mimeTypes: ['text/plain', 'application/octet-stream'] },
    { kind: 'md', extensions: ['md', 'markdown'], mimeTypes: ['text/markdown', 'text/plain', 'application/octet-stream'] },
    { kind: 'pdf', extensions: ['pdf'], mimeTypes: ['application/pdf', 'application/x-pdf', 'application/octet-stream'] },
  ],
};
const MB = 1024 * 1024;
const file = (name: string, size = 1_000, type = ''): FileLike => ({ name, size, type });

/** An error as api.ts throws it (ApiError: status, code, message, retryAfter). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter: string | null = null,
  ) {
    super(message);
  }
}
const overloaded = (retryAfter: string | null = '5') => new HttpError(503, 'The server is overloaded; retry shortly.', retryAfter);

/** A clock the queue's waits advance instantly; records each wait. */
function fakeTime() {
  let now = Date.parse('2025-06-01T12:00:00Z');
  const waits: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
    waits,
  };
}

/** A send whose calls stay pending until the test settles them. */
function controlledSend() {
  const calls: { name: string; resolve: (value: string) => void; reject: (error: unknown) => void; progress: (f: number) => void }[] = [];
  const send = (f: FileLike, progress: (fraction: number) => void) => new Promise<string>((resolve, reject) => calls.push({ name: f.name, resolve, reject, progress }));
  return { calls, send };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('checkFile', () => {
  it('refuses a file over the limit, naming the size, the limit and the setting', () => {
    expect(checkFile(file('policy.pdf', 29.3 * MB, 'application/pdf'), LIMITS)).toBe('policy.pdf is 29.3 MB; the limit is 25 MB (UPLOAD_MAX_BYTES).');
    expect(checkFile(file('policy.pdf', 25 * MB, 'application/pdf'), LIMITS)).toBeNull(); // exactly the limit is accepted
  });

  it('refuses types the server does not accept, by extension and by declared type', () => {
    expect(checkFile(file('setup.exe', 1_000, 'application/x-msdownload'), LIMITS)).toBe('setup.exe: .exe files are not accepted; upload .txt, .md or .pdf.');
    expect(checkFile(file('README'), LIMITS)).toBe('README: files without an extension are not accepted; upload .txt, .md or .pdf.');
    expect(checkFile(file('report.pdf', 1_000, 'text/html'), LIMITS)).toBe('report.pdf is declared as text/html, which is not accepted for .pdf files.');
    expect(checkFile(file('Notes.MD', 1_000, 'text/markdown'), LIMITS)).toBeNull();
    expect(checkFile(file('notes.md', 1_000, ''), LIMITS)).toBeNull(); // no declared type: the server decides from the content
  });

  it('refuses empty files, and leaves the rest to the server when its limits are unknown', () => {
    expect(checkFile(file('empty.txt', 0), LIMITS)).toBe('empty.txt is empty.');
    expect(checkFile(file('setup.exe', 99 * MB), null)).toBeNull();
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('5', now)).toBe(5_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:00:07 GMT', now)).toBe(7_000);
    expect(parseRetryAfter('Sun, 01 Jun 2025 11:00:00 GMT', now)).toBe(0); // in the past
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('waits what the server asks, up to a cap, else backs off exponentially', () => {
    const policy = { maxAttempts: 5, baseDelayMs: 2_000, maxDelayMs: 30_000 };
    expect(retryDelayMs('5', 1, now, policy)).toBe(5_000);
    expect(retryDelayMs('3600', 1, now, policy)).toBe(30_000);
    expect(retryDelayMs(null, 1, now, policy)).toBe(2_000);
    expect(retryDelayMs(null, 3, now, policy)).toBe(8_000);
    expect(retryDelayMs(null, 10, now, policy)).toBe(30_000);
  });

  it('retries what the server shed or the network lost, never a refusal', () => {
    expect(transient(overloaded('5'))).toEqual({ retry: true, retryAfter: '5' });
    expect(transient(new HttpError(429, 'Too many requests', '12'))).toEqual({ retry: true, retryAfter: '12' });
    expect(transient(new TypeError('network error'))).toEqual({ retry: true, retryAfter: null });
    for (const status of [400, 409, 413, 415, 422, 500]) expect(transient(new HttpError(status, 'refused')).retry, String(status)).toBe(false);
    expect(transient(new DOMException('Upload cancelled', 'AbortError')).retry).toBe(false);
  });
});

describe('UploadQueue', () => {
  it('sends two files at a time, in order, and reports each one done', async () => {
    const { calls, send } = controlledSend();
    const done: string[] = [];
    const queue = new UploadQueue<FileLike, string>({ send, onChange: () => undefined, onDone: (result) => done.push(result), concurrency: 2 });
    queue.add(['a.md', 'b.md', 'c.md', 'd.md', 'e.md'].map((name) => file(name)));
    expect(calls.map((c) => c.name)).toEqual(['a.md', 'b.md']);
    expect(queue.rows.map((r) => r.state)).toEqual(['uploading', 'uploading', 'waiting', 'waiting', 'waiting']);
    calls[0]!.progress(0.5);
    expect(queue.rows[0]).toMatchObject({ state: 'uploading', progress: 0.5 });
    calls[1]!.resolve('doc-b');
    await flush();
    expect(calls.map((c) => c.name)).toEqual(['a.md', 'b.md', 'c.md']);
    for (const call of calls.slice(2)) call.resolve(`doc-${call.name[0]}`);
    calls[0]!.resolve('doc-a');
    await flush();
    while (calls.length < 5 || queue.rows.some((r) => r.state !== 'done')) {
      for (const call of calls) call.resolve(`doc-${call.name[0]}`);
      await flush();
    }
    expect(done.sort()).toEqual(['doc-a', 'doc-b', 'doc-c', 'doc-d', 'doc-e']);
    expect(queue.rows.every((r) => r.state === 'done')).toBe(true);
  });

  it('retries a shed upload after Retry-After, showing the countdown, until it arrives', async () => {
    const time = fakeTime();
    const seen: UploadRow[][] = [];
    let tries = 0;
    const queue = new UploadQueue<FileLike, string>({
      send: async () => {
        tries++;
        if (tries <= 2) throw overloaded('5');
        return 'doc';
      },
      onChange: (rows) => seen.push(rows),
      now: time.now,
      sleep: time.sleep,
    });
    queue.add([file('policy.pdf')]);
    await queue.idle();
    expect(tries).toBe(3);
    expect(queue.rows[0]).toMatchObject({ state: 'done' });
    expect(time.waits.reduce((a, b) => a + b, 0)).toBe(10_000); // 5 s twice, as asked
    const countdown = seen.flat().filter((r) => r.state === 'retrying');
    expect(countdown[0]).toMatchObject({ state: 'retrying', seconds: 5, attempt: 2, maxAttempts: 5, reason: 'The server is overloaded; retry shortly.' });
    expect(countdown.map((r) => (r.state === 'retrying' ? r.seconds : 0)).slice(0, 5)).toEqual([5, 4, 3, 2, 1]);
  });

  it('gives up after the last attempt with the server’s message, and the Retry action sends it again', async () => {
    const time = fakeTime();
    let fail = true;
    let tries = 0;
    const queue = new UploadQueue<FileLike, string>({
      send: async () => {
        tries++;
        if (fail) throw overloaded('1');
        return 'doc';
      },
      onChange: () => undefined,
      policy: { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 10_000 },
      now: time.now,
      sleep: time.sleep,
    });
    queue.add([file('a.md')]);
    await queue.idle();
    expect(tries).toBe(3);
    expect(queue.rows[0]).toEqual({ key: 0, name: 'a.md', size: 1_000, state: 'failed', message: 'The server is overloaded; retry shortly.', retryable: true });
    fail = false;
    queue.retry(0);
    await queue.idle();
    expect(tries).toBe(4);
    expect(queue.rows[0]).toMatchObject({ state: 'done' });
  });

  it('does not retry a refusal (type, size, malware) and shows the server’s message at once', async () => {
    let tries = 0;
    const queue = new UploadQueue<FileLike, string>({
      send: async () => {
        tries++;
        throw new HttpError(422, 'The file was refused by the malware scanner.');
      },
      onChange: () => undefined,
      sleep: async () => undefined,
    });
    queue.add([file('eicar.txt')]);
    await queue.idle();
    expect(tries).toBe(1);
    expect(queue.rows[0]).toMatchObject({ state: 'failed', message: 'The file was refused by the malware scanner.', retryable: true });
  });

  it('refuses files that fail the check before sending them, without a Retry', async () => {
    const { calls, send } = controlledSend();
    const queue = new UploadQueue<FileLike, string>({ send, onChange: () => undefined, check: (f) => checkFile(f, LIMITS) });
    queue.add([file('huge.pdf', 29.3 * MB, 'application/pdf'), file('setup.exe'), file('fine.md')]);
    expect(calls.map((c) => c.name)).toEqual(['fine.md']);
    expect(queue.rows.slice(0, 2)).toMatchObject([
      { state: 'failed', retryable: false, message: 'huge.pdf is 29.3 MB; the limit is 25 MB (UPLOAD_MAX_BYTES).' },
      { state: 'failed', retryable: false },
    ]);
    queue.retry(0); // nothing to retry: it would be refused again
    expect(queue.rows[0]).toMatchObject({ state: 'failed' });
    expect(calls).toHaveLength(1);
  });

  it('keeps a retrying file’s slot, so a shed burst is not followed by the next files', async () => {
    const time = fakeTime();
    const started: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new UploadQueue<FileLike, string>({
      send: async (f) => {
        started.push(f.name);
        if (f.name === 'a.md' && started.filter((n) => n === 'a.md').length === 1) throw overloaded('2');
        if (f.name === 'b.md') await gate;
        return f.name;
      },
      onChange: () => undefined,
      concurrency: 2,
      now: time.now,
      sleep: async (ms) => {
        await time.sleep(ms);
        await flush();
      },
    });
    queue.add([file('a.md'), file('b.md'), file('c.md')]);
    for (let i = 0; i < 50 && started.length < 3; i++) await flush();
    for (let i = 0; i < 10; i++) await flush(); // time for c to start, were a's slot free
    // a was shed and retried (after 2 s) in its own slot; c waited for a slot.
    expect(started.slice(0, 3)).toEqual(['a.md', 'b.md', 'a.md']);
    release();
    await queue.idle();
    expect(started).toEqual(['a.md', 'b.md', 'a.md', 'c.md']);
    expect(queue.rows.map((r) => r.state)).toEqual(['done', 'done', 'done']);
  });
});
