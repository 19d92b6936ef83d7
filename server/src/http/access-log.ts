/**
 * The access log: one line per request at `info`, when it completes, with the method, the
 * (redacted) URL, the status and the time taken — instead of Fastify's two (one on arrival,
 * one on completion), which cost about a quarter of the throughput of a trivial request
 * (bench/results/http-read-path-profile.md). The arrival line is still written at `debug`, for following a
 * request that never completes.
 *
 * Routes an orchestrator or a scraper calls every few seconds (the health probes) set
 * `config.accessLog: 'debug'`: their successful lines go to `debug`, so they neither bury
 * people's requests in the log nor cost a line each; a probe that fails (4xx, 5xx) is still
 * written at `info`.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `'debug'`: successful requests to this route are logged at debug, not info (health probes). */
    accessLog?: 'debug';
  }
}

export class AccessLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (reply.statusCode < 400 && request.routeOptions.config.accessLog === 'debug') reply.log.debug({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
