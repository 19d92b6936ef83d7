/** Cheap request-line checks before any parsing: URL length and query parameter count. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

export function requestLimitsHook(limits: { maxUrlLength: number; maxQueryParams: number }) {
  // Callback style: no promise per request on the hot path.
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    const url = request.raw.url ?? '';
    if (url.length > limits.maxUrlLength) return done(new AppError('uri_too_long', `The URL is longer than ${limits.maxUrlLength} characters.`));
    const query = url.indexOf('?');
    if (query !== -1) {
      let params = 1;
      for (let i = query + 1; i < url.length; i++) if (url.charCodeAt(i) === 0x26) params++;
      if (params > limits.maxQueryParams) return done(new AppError('too_many_parameters', `At most ${limits.maxQueryParams} query parameters are accepted.`));
    }
    done();
  };
}
