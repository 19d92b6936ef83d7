/**
 * The only body parser: JSON, with prototype-poisoning protection (Fastify's own
 * parser) and a nesting-depth limit checked before parsing, so a deeply nested
 * body cannot exhaust the stack or CPU.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received (JSON requests only). */
    rawBody?: string;
  }
}

/** Returns the deepest nesting of objects/arrays in a JSON text, stopping early past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function registerJsonBody(app: FastifyInstance, maxDepth: number, extraJsonTypes: string[] = []): void {
  app.removeAllContentTypeParsers();
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(['application/json', ...extraJsonTypes], { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, maxDepth)) {
      done(new AppError('invalid_json', `JSON body is nested deeper than ${maxDepth} levels.`), undefined);
      return;
    }
    // Kept for signature verification (src/http/request-signature.ts), which hashes the exact bytes.
    request.rawBody = text;
    parse(request, text, (error, value) => {
      if (error) done(new AppError('invalid_json', 'Request body is not valid JSON.'), undefined);
      else done(null, value);
    });
  });
}
