/**
 * API clients for workspace tests: a user with an API key holding every scope, making
 * bearer requests through `inject` (or over real HTTP for streaming tests).
 */
import type { LightMyRequestResponse } from 'fastify';
import { SCOPES } from '../src/principal.js';
import { ApiKeyService } from '../src/modules/api-keys/service.js';
import { systemClock } from '../src/platform/clock.js';
import { createUser } from './accounts.js';
import type { TestApp } from './harness.js';

let counter = 0;

export class ApiClient {
  /** Sent as X-Workspace-Id when set; unset means the personal workspace. */
  workspaceId: string | undefined;

  constructor(
    private readonly t: TestApp,
    readonly userId: string,
    readonly email: string,
    readonly key: string,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...(this.workspaceId ? { 'x-workspace-id': this.workspaceId } : {}), ...extra };
  }

  request(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.t.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: this.headers({ ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }),
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  }

  get(url: string) {
    return this.request('GET', url);
  }
  post(url: string, body: unknown = {}, headers?: Record<string, string>) {
    return this.request('POST', url, body, headers);
  }
  patch(url: string, body: unknown) {
    return this.request('PATCH', url, body);
  }
  put(url: string, body: unknown) {
    return this.request('PUT', url, body);
  }
  delete(url: string) {
    return this.request('DELETE', url);
  }
}

/** A new verified user with a full-scope API key. */
export async function apiUser(t: TestApp, options: { role?: 'admin' | 'member'; email?: string } = {}): Promise<ApiClient> {
  const email = options.email ?? `user${++counter}-${Date.now()}@example.org`;
  const userId = await createUser(t.database, { email, role: options.role ?? 'member' });
  const { key } = await new ApiKeyService(t.database.db, systemClock, t.store).create(userId, { name: 'test', scopes: [...SCOPES] });
  return new ApiClient(t, userId, email, key);
}
