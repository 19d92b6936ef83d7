/**
 * The one way the web app talks to the API: same-origin fetch with the session cookie,
 * the CSRF token on every state-changing request, errors as ApiError with the server's
 * stable code, and an expired session sent to sign-in with a way back.
 */
import { goto } from '$app/navigation';

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
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

/** Where to go back to after signing in again. */
export function signInUrl(next = location.pathname + location.search): string {
  return `/sign-in?next=${encodeURIComponent(next)}`;
}

export async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, body, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The raw Response (for streams); errors are thrown as ApiError like request(). */
export async function send(method: string, path: string, body?: unknown, options: RequestOptions = {}, retried = false): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (workspaceId) headers['x-workspace-id'] = workspaceId;
  if (UNSAFE.has(method)) {
    const token = await csrf();
    if (token) headers['x-csrf-token'] = token;
  }
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin', signal: options.signal });
  if (response.ok) return response;
  const error = await toError(response);
  if (error.code === 'csrf_failed' && !retried) {
    resetCsrf();
    return send(method, path, body, options, true);
  }
  if (response.status === 401 && options.redirectOn401 !== false && !isAuthPage(location.pathname)) {
    resetCsrf();
    await goto(signInUrl());
  }
  // A new privacy policy or terms version must be accepted first: the privacy page asks.
  if (error.code === 'consent_required' && location.pathname !== '/privacy') {
    await goto(`/privacy?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  throw error;
}

const AUTH_PAGES = /^\/(sign-in|sign-up|register|verify-email|forgot-password|reset-password|not-me|link-identity)(\/|$)/;

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
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code) return new ApiError(response.status, body.error.code, body.error.message ?? body.error.code, body.error.details);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, 'http_' + response.status, `The server answered ${response.status}.`);
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body ?? {}, options),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PUT', path, body ?? {}, options),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PATCH', path, body ?? {}, options),
  delete: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, undefined, options),
};
