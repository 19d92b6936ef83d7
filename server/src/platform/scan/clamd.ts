/**
 * ClamAV through clamd's INSTREAM command (see clamd(8)): `zINSTREAM\0`, then chunks of
 * <4-byte big-endian length><data>, then a zero-length chunk; clamd answers
 * `stream: OK\0`, `stream: <Signature> FOUND\0` or `<message> ERROR\0`. Streaming means
 * clamd needs no access to our disk, so it can run in its own container.
 *
 * The file goes through one reused buffer and each chunk is flushed to the socket before
 * the next is read: memory stays at one chunk whatever the file size, and a slow clamd
 * slows the read instead of filling memory.
 *
 * Anything short of a verdict (connection refused, timeout, clamd closing the connection,
 * an ERROR reply such as "INSTREAM size limit exceeded") throws ScannerUnavailableError,
 * so the caller keeps the file and retries: the scan fails closed.
 */
import net from 'node:net';
import { open } from 'node:fs/promises';
import { CLEAN, infected, ScannerUnavailableError, type ScanTarget, type ScanVerdict, type Scanner } from './scanner.js';

export interface ClamdScannerOptions {
  /** `tcp://host:port` or `unix:///path/to/clamd.sock`. */
  url: string;
  /** Deadline for a whole command, connection included (default 60 s: a 50 MB upload on a busy clamd). */
  timeoutMs?: number;
  /** Bytes per INSTREAM chunk (default 64 KiB). */
  maxChunkBytes?: number;
}

type Endpoint = { path: string } | { host: string; port: number };

/** Longest reply we keep: replies are one short line; more is not clamd. */
const MAX_REPLY_BYTES = 4096;

function parseEndpoint(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('clamd url must be tcp://host:port or unix:///path');
  }
  if (parsed.protocol === 'unix:' && parsed.pathname && !parsed.host) return { path: decodeURIComponent(parsed.pathname) };
  if (parsed.protocol === 'tcp:' && parsed.hostname && parsed.port) {
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port) };
  }
  throw new TypeError('clamd url must be tcp://host:port or unix:///path');
}

/**
 * Turns clamd's reply into a verdict. With `ExtendedDetectionInfo yes` clamd appends
 * `(<hash>:<size>)` to the signature name; the reason keeps the name alone.
 */
export function parseClamdReply(reply: string): ScanVerdict {
  const text = reply.replace(/\0+$/, '').trim();
  if (text === 'stream: OK') return CLEAN;
  const found = /^stream: (.+?)(?:\([0-9a-f]{32,64}:\d+\))? FOUND$/.exec(text);
  if (found) return infected(`clamav:${found[1]}`);
  if (/size limit exceeded/i.test(text)) {
    throw new ScannerUnavailableError('clamd refused the file: INSTREAM size limit exceeded (raise StreamMaxLength in clamd.conf above the upload size limit)');
  }
  throw new ScannerUnavailableError(`clamd gave no verdict: ${text.slice(0, 200) || '(empty reply)'}`);
}

/**
 * clamd answers a stream over StreamMaxLength with "INSTREAM size limit exceeded" and
 * hangs up at once; while we are still writing, the hang-up (EPIPE, ECONNRESET) usually
 * reaches us before the reply can be read. Say what it most likely means.
 */
function streamedTooMuch(error: unknown, streamed: number): ScannerUnavailableError | null {
  if (!(error instanceof ScannerUnavailableError) || streamed === 0) return null;
  const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EPIPE' && code !== 'ECONNRESET') return null;
  return new ScannerUnavailableError(`clamd hung up after ${streamed} bytes of the stream (${code}): INSTREAM size limit exceeded? (raise StreamMaxLength in clamd.conf above the upload size limit)`, { cause: error });
}

/** One clamd connection: writes that wait for the socket, and the NUL-terminated reply. */
class ClamdSession {
  private readonly replyChunks: Buffer[] = [];
  private replyBytes = 0;
  private failure: Error | null = null;
  private finish!: () => void;
  /** Settles once clamd has replied (NUL), closed the connection, or the socket failed. */
  private readonly finished = new Promise<void>((resolve) => (this.finish = resolve));
  done = false;

  constructor(
    private readonly socket: net.Socket,
    url: string,
  ) {
    const end = (): void => {
      this.done = true;
      this.finish();
    };
    socket.on('data', (data: Buffer) => {
      this.replyChunks.push(data);
      this.replyBytes += data.length;
      if (data.includes(0) || this.replyBytes > MAX_REPLY_BYTES) end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.failure ??= new ScannerUnavailableError(`clamd at ${url} is unreachable (${error.code ?? error.message})`, { cause: error });
      end();
    });
    socket.on('end', end);
    socket.on('close', end);
  }

  static open(endpoint: Endpoint, url: string): ClamdSession {
    return new ClamdSession(net.connect(endpoint), url);
  }

  /**
   * Resolves once `data` is handed to the kernel, so the caller may reuse the buffer;
   * at once when clamd has already answered (a size-limit error, say) or gone away.
   */
  async write(data: Buffer): Promise<void> {
    if (this.done) return;
    await Promise.race([new Promise<void>((resolve) => this.socket.write(data, () => resolve())), this.finished]);
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.socket.destroy();
  }

  async reply(): Promise<string> {
    await this.finished;
    const reply = Buffer.concat(this.replyChunks).toString('utf8');
    // A reply counts even when the socket failed afterwards (clamd closes after an ERROR).
    if (reply.includes('\0')) return reply.slice(0, reply.indexOf('\0'));
    if (this.failure) throw this.failure;
    if (reply) return reply;
    throw new ScannerUnavailableError('clamd closed the connection without a reply');
  }

  close(): void {
    this.socket.destroy();
  }
}

export class ClamdScanner implements Scanner {
  readonly name = 'clamav';
  private readonly endpoint: Endpoint;
  private readonly timeoutMs: number;
  private readonly maxChunkBytes: number;

  constructor(private readonly options: ClamdScannerOptions) {
    this.endpoint = parseEndpoint(options.url);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxChunkBytes = options.maxChunkBytes ?? 64 * 1024;
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    if (!Number.isInteger(this.maxChunkBytes) || this.maxChunkBytes < 1 || this.maxChunkBytes > 0x7fffffff) {
      throw new RangeError('maxChunkBytes must be a positive integer');
    }
  }

  async scan(target: ScanTarget, signal?: AbortSignal): Promise<ScanVerdict> {
    signal?.throwIfAborted();
    // Opened first: a missing file is the caller's error, not an unavailable scanner.
    const file = await open(target.path, 'r');
    let streamed = 0;
    try {
      const reply = await this.command(signal, async (session) => {
        await session.write(Buffer.from('zINSTREAM\0'));
        const buffer = Buffer.allocUnsafe(4 + this.maxChunkBytes);
        while (!session.done) {
          const { bytesRead } = await file.read(buffer, 4, this.maxChunkBytes, streamed);
          if (bytesRead === 0) break;
          buffer.writeUInt32BE(bytesRead, 0);
          await session.write(buffer.subarray(0, 4 + bytesRead));
          streamed += bytesRead;
        }
        await session.write(Buffer.alloc(4));
      });
      return parseClamdReply(reply);
    } catch (error) {
      throw streamedTooMuch(error, streamed) ?? error;
    } finally {
      await file.close();
    }
  }

  /** True when clamd answers PING with PONG in time; never throws. */
  async ping(): Promise<boolean> {
    try {
      return (await this.command(undefined, (session) => session.write(Buffer.from('zPING\0')))).trim() === 'PONG';
    } catch {
      return false;
    }
  }

  /** Runs one command on a fresh connection under the deadline and returns the reply. */
  private async command(signal: AbortSignal | undefined, send: (session: ClamdSession) => Promise<void>): Promise<string> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const aborted = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const session = ClamdSession.open(this.endpoint, this.options.url);
    const onAbort = (): void => session.fail(new Error('aborted'));
    aborted.addEventListener('abort', onAbort, { once: true });
    try {
      await send(session);
      return await session.reply();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (deadline.aborted) {
        throw new ScannerUnavailableError(`clamd at ${this.options.url} did not answer within ${this.timeoutMs} ms`, { cause: error });
      }
      // ScannerUnavailableError from the session or the reply; anything else (reading the
      // file, say) is not about clamd and goes to the caller as it is.
      throw error;
    } finally {
      aborted.removeEventListener('abort', onAbort);
      session.close();
    }
  }
}
