/**
 * The answers Fastify and Node give outside the request lifecycle, in the same error
 * envelope and with the same security headers as every other response, reflecting no input:
 *
 * - `frameworkErrors`: a path that does not decode (FST_ERR_BAD_URL) or a path parameter over
 *   the router's limit (FST_ERR_MAX_PARAM_LENGTH). Fastify's own answers echo the decoded path,
 *   and no onSend hook runs for them, so the headers are set here.
 * - `clientErrorHandler`: what Node's parser refuses before there is a request (a malformed
 *   request line, oversized headers, a request or headers timeout). Written to the socket as
 *   raw HTTP/1.1 with `Connection: close`.
 * - `checkExpectation`: an `Expect` other than `100-continue`, which Node answers with a bare 417.
 * - the drain: while the app closes, a request that still arrives (on a connection that was
 *   busy when the server stopped accepting) gets 503 `service_unavailable` with Retry-After
 *   and `Connection: close`, before any other hook runs. It replaces Fastify's raw
 *   `return503OnClosing`. A response that started before the close (an answer stream) ends
 *   its connection when it finishes, so no idle keep-alive socket holds the close open.
 *
 * A client that aborts (onRequestAbort) is gone: there is no one to answer.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { App } from './app-type.js';
import { sendError, toAppError } from './errors-plugin.js';
import { AppError, type ErrorEnvelope } from '../errors.js';
import { newRequestId, requestId } from './request-id.js';
import { errorHeaders, type HeaderSets } from './security-headers.js';

/** Fastify `frameworkErrors`: errors raised while routing, before any hook. */
export function frameworkErrorHandler(headers: HeaderSets, isClosing: () => boolean) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const known = toAppError(error) ?? new AppError('internal_error', 'Something went wrong on our side; the error was logged.');
    if (known.status >= 500) request.log.error({ err: error }, 'routing failed');
    else request.log.info({ code: known.code, fastifyCode: error.code }, 'request rejected while routing');
    for (const [name, value] of errorHeaders(headers, request.id)) reply.header(name, value);
    if (isClosing()) reply.header('connection', 'close');
    void sendError(request, reply, known);
  };
}

/** Node's client errors by code; anything else the parser refuses is a 400. */
const CLIENT_ERRORS: Record<string, () => AppError> = {
  HPE_HEADER_OVERFLOW: () => new AppError('headers_too_large', 'The request headers are larger than the server accepts.'),
  ERR_HTTP_REQUEST_TIMEOUT: () => new AppError('request_timeout', 'The request did not arrive in time.'),
};

/** A socket still writing the previous response must not get a second status line. */
function isMidResponse(socket: Socket): boolean {
  // Node's own clientError fallback makes the same check (lib/_http_server.js, socketOnError).
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return current?.headersSent === true;
}

/** Status line, headers and JSON body of an error answered without Fastify's reply. */
function errorAnswer(error: AppError, id: string, headers: HeaderSets): { head: [string, string][]; body: string } {
  const envelope: ErrorEnvelope = { error: { code: error.code, message: error.message, requestId: id } };
  const body = JSON.stringify(envelope);
  const head: [string, string][] = [['content-type', 'application/json; charset=utf-8'], ['content-length', String(Buffer.byteLength(body))], ['connection', 'close'], ...errorHeaders(headers, id)];
  return { head, body };
}

/** The raw HTTP/1.1 text of an error envelope, for a socket that has no response object. */
function rawErrorResponse(error: AppError, id: string, headers: HeaderSets): string {
  const { head, body } = errorAnswer(error, id, headers);
  const lines = [`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`, ...head.map(([name, value]) => `${name}: ${value}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Fastify `clientErrorHandler`: Node's early 400/408/431, before any request exists. */
export function clientErrorHandler(headers: HeaderSets, logger: Logger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // A reset connection has no one to answer (https://nodejs.org/api/http.html#event-clienterror).
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const known = CLIENT_ERRORS[error.code ?? '']?.() ?? new AppError('bad_request', 'The request could not be parsed.');
    const id = newRequestId();
    logger.debug({ requestId: id, code: known.code, parserCode: error.code }, 'client error');
    if (socket.writable && !isMidResponse(socket)) socket.write(rawErrorResponse(known, id, headers));
    socket.destroy(error);
  };
}

/**
 * Node's `checkExpectation`: an `Expect` other than `100-continue`, which Node would answer
 * with a bare 417 before Fastify sees the request.
 */
export function expectationFailedHandler(headers: HeaderSets) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const { head, body } = errorAnswer(new AppError('expectation_failed', 'Only "Expect: 100-continue" is supported.'), requestId(request), headers);
    response.writeHead(417, Object.fromEntries(head)).end(body);
  };
}

/**
 * The drain: `register` it before any other onRequest hook, so a request arriving while the
 * app closes costs no store read or handler. `isClosing` is read by the header hooks, which
 * then add `Connection: close`.
 *
 * `app.close()` waits for every connection: Fastify's `forceCloseConnections: 'idle'` ends
 * the idle ones when the close starts, and the answers sent during the close say
 * `Connection: close`. A response whose headers went out before (a streamed answer, sent
 * with keep-alive) would leave its socket idle but open until HTTP_KEEP_ALIVE_TIMEOUT_MS, so
 * shutdown waited for SHUTDOWN_TIMEOUT_MS: such a socket is ended when its response finishes.
 */
export class Drain {
  private closing = false;
  readonly isClosing = (): boolean => this.closing;

  register(app: App): void {
    app.addHook('preClose', async () => {
      this.closing = true;
    });
    // Callback style: no promise per request on the hot path.
    app.addHook('onRequest', (request, reply, done) => {
      if (!this.closing) return done();
      request.log.info('request refused: shutting down');
      // sendError sets Retry-After on a 503; the onSend hook adds the headers and Connection: close.
      void sendError(request, reply, new AppError('service_unavailable', 'The server is shutting down; retry shortly.'));
    });
    app.addHook('onResponse', (request, _reply, done) => {
      if (this.closing) endIdleSocket(request.raw.socket);
      done();
    });
  }
}

/** Ends a keep-alive socket whose response has finished, unless another response (pipelined) is under way. */
function endIdleSocket(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  if ((socket as Socket & { _httpMessage?: unknown })._httpMessage) return;
  // destroySoon: after what is still buffered has been written, like Node's own `Connection: close`.
  const closing = socket as Socket & { destroySoon?: () => void };
  if (typeof closing.destroySoon === 'function') closing.destroySoon();
  else socket.end();
}
