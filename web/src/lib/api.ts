/**
 * The one way the web app talks to the API: same-origin fetch with the session cookie,
 * the CSRF token on every state-changing request, errors as ApiError with the server's
 * stable code, and an expired session sent to sign-in with a way back.
 */
import { goto } from '$app/navigation';
import type { ErrorEnvelope } from '$lib/api/types';

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** The Retry-After header of a 429 or 503 (delta-seconds or an HTTP date), when sent. */
    readonly retryAfter: string | null = null,
  ) {
    super(message);
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
let csrfToken: string | null = null;
/** GET /auth/csrf answered 401: no session, so pre-login posts go without a token until resetCsrf(). */
let signedOut = false;
const WORKSPACE_KEY = 'bastion.workspace';
// The choice made last time, so calls made before the app shell has loaded the
// workspace list already run in it (the shell corrects it if it is gone).
let workspaceId: string | null = readStoredWorkspace();

function readStoredWorkspace(): string | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage.getItem(WORKSPACE_KEY);
  } catch {
    return null; // storage disabled
  }
}

/** The workspace every workspace-scoped call runs in (sent as X-Workspace-Id); remembered in this browser. */
export function setWorkspace(id: string | null): void {
  workspaceId = id;
  try {
    if (id) localStorage.setItem(WORKSPACE_KEY, id);
    else localStorage.removeItem(WORKSPACE_KEY);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export function currentWorkspace(): string | null {
  return workspaceId;
}

/** Forget the CSRF token (after sign-in, sign-out or a csrf_failed answer). */
export function resetCsrf(): void {
  csrfToken = null;
  signedOut = false;
}

/** The session's CSRF token, or null before sign-in (pre-login routes need none; the Origin check applies). */
async function csrf(): Promise<string | null> {
  if (!csrfToken && !signedOut) {
    try {
      const body = await request<{ token: string }>('GET', '/auth/csrf', undefined, { redirectOn401: false });
      csrfToken = body.token;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        signedOut = true;
        return null;
      }
      throw error;
    }
  }
  return csrfToken;
}

export interface RequestOptions {
  /** Send an expired or missing session to sign-in (default true). */
  redirectOn401?: boolean;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Where to go back to after signing in again; `expired` makes the sign-in screen say why it asks. */
export function signInUrl(next = location.pathname + location.search, reason?: 'expired'): string {
  return `/sign-in?next=${encodeURIComponent(next)}${reason ? `&reason=${reason}` : ''}`;
}

export async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, body, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The raw Response (for streams); errors are thrown as ApiError like request(). */
export async function send(method: string, path: string, body?: unknown, options: RequestOptions = {}, retried = false): Promise<Response> {
  const headers = await headersFor(method, options);
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin', signal: options.signal });
  if (response.ok) return response;
  return failed(await toError(response), options, retried, () => send(method, path, body, options, true));
}

export interface UploadOptions extends RequestOptions {
  /** Called with the fraction sent so far (0–1) while the body uploads. */
  onProgress?: (fraction: number) => void;
}

/**
 * POSTs a multipart form with XMLHttpRequest, the only browser API that reports upload
 * progress; otherwise like request(): the same headers (CSRF token, X-Workspace-Id), errors
 * as ApiError, and the same handling of an expired session or a stale CSRF token.
 */
export async function upload<T>(path: string, form: FormData, options: UploadOptions = {}, retried = false): Promise<T> {
  const headers = await headersFor('POST', options);
  const { status, body, retryAfter } = await new Promise<{ status: number; body: unknown; retryAfter: string | null }>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API + path);
    xhr.withCredentials = true;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) options.onProgress?.(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: unknown = undefined;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      resolve({ status: xhr.status, body, retryAfter: xhr.getResponseHeader('retry-after') });
    };
    xhr.onerror = () => reject(new TypeError('network error'));
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    options.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
  if (status >= 200 && status < 300) return body as T;
  return failed(errorFrom(status, body, retryAfter), options, retried, () => upload<T>(path, form, options, true));
}

/** The headers every call sends: JSON accepted, the workspace, and the CSRF token on state-changing methods. */
async function headersFor(method: string, options: RequestOptions): Promise<Record<string, string>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (workspaceId) headers['x-workspace-id'] = workspaceId;
  Object.assign(headers, options.headers); // a call may name another workspace (Session.findWorkspaceOf)
  if (UNSAFE.has(method)) {
    const token = await csrf();
    if (token) headers['x-csrf-token'] = token;
  }
  return headers;
}

/** A refused call: retried once with a fresh CSRF token, or sent to sign-in / the privacy page; else thrown. */
async function failed<T>(error: ApiError, options: RequestOptions, retried: boolean, retry: () => Promise<T>): Promise<T> {
  if (error.code === 'csrf_failed' && !retried) {
    resetCsrf();
    return retry();
  }
  if (error.status === 401 && options.redirectOn401 !== false && !isAuthPage(location.pathname)) {
    // A signed-in screen's call refused: the session ended (expired, revoked, signed out elsewhere).
    resetCsrf();
    await goto(signInUrl(undefined, 'expired'));
  }
  // A new privacy policy or terms version must be accepted first: the privacy page asks.
  if (error.code === 'consent_required' && location.pathname !== '/privacy') {
    await goto(`/privacy?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  throw error;
}

const AUTH_PAGES = /^\/(sign-in|sign-up|register|verify-email|forgot-password|reset-password|not-me|link-identity|setup|invitations)(\/|$)/;

function isAuthPage(pathname: string): boolean {
  return AUTH_PAGES.test(pathname);
}

/** True for a 404 from a route the server does not have (yet), as opposed to a missing resource. */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

/** A message for people, from any error a call can throw. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof DOMException && error.name === 'AbortError') return 'Cancelled.';
  if (error instanceof TypeError) return 'The server cannot be reached; check your connection and try again.';
  return 'Something went wrong; try again.';
}

async function toError(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    // not JSON: fall through
  }
  return errorFrom(response.status, body, response.headers.get('retry-after'));
}

/** The ApiError for an error answer: the envelope's code and message, or `http_<status>` when there is none. */
function errorFrom(status: number, body: unknown, retryAfter: string | null = null): ApiError {
  const error = (body as Partial<ErrorEnvelope> | undefined)?.error;
  if (error?.code) return new ApiError(status, error.code, error.message ?? error.code, error.details, retryAfter);
  return new ApiError(status, 'http_' + status, `The server answered ${status}.`, undefined, retryAfter);
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body ?? {}, options),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PUT', path, body ?? {}, options),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PATCH', path, body ?? {}, options),
  delete: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, undefined, options),
};
