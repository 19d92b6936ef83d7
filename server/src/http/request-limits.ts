/** Cheap request-line checks before any parsing: URL length and query parameter count. */
import type { FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

export function requestLimitsHook(limits: { maxUrlLength: number; maxQueryParams: number }) {
  return async (request: FastifyRequest): Promise<void> => {
    const url = request.raw.url ?? '';
    if (url.length > limits.maxUrlLength) throw new AppError('uri_too_long', `The URL is longer than ${limits.maxUrlLength} characters.`);
    const query = url.indexOf('?');
    if (query !== -1) {
      let params = 1;
      for (let i = query + 1; i < url.length; i++) if (url.charCodeAt(i) === 0x26) params++;
      if (params > limits.maxQueryParams) throw new AppError('too_many_parameters', `At most ${limits.maxQueryParams} query parameters are accepted.`);
    }
  };
}
