/**
 * How a request changes when it follows a redirect, after the fetch standard and what
 * browsers do: 303 (and 301/302 after a POST) become a body-less GET, and credentials
 * never travel to a different origin, so a redirect cannot leak an API key to a host
 * the caller did not choose.
 */

/** What a redirect changes of a request (OutboundRequest has these fields and more). */
export interface RedirectableRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

// Headers that identify the caller; sent only to the origin they were meant for.
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'api-key']);
// Headers that describe a body; dropped with it.
const BODY_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']);

/** True for the statuses that carry a Location to follow. */
export function isRedirect(status: number): boolean {
  return REDIRECT_STATUS.has(status);
}

/** The request to send to `to` after `status` redirected a request for `from`. */
export function redirectedRequest<R extends RedirectableRequest>(request: R, status: number, from: URL, to: URL): R {
  const method = (request.method ?? 'GET').toUpperCase();
  const toGet = (status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST');
  const crossOrigin = from.origin !== to.origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const lower = name.toLowerCase();
    if (crossOrigin && CREDENTIAL_HEADERS.has(lower)) continue;
    if (toGet && BODY_HEADERS.has(lower)) continue;
    headers[name] = value;
  }
  const next: R = { ...request, headers };
  if (toGet) {
    next.method = 'GET';
    delete next.body;
  }
  return next;
}
