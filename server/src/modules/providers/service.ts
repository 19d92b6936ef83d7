/**
 * Provider connections: per-workspace LLM endpoints with envelope-encrypted
 * credentials (the workspace's data key). The provider for a call comes from
 * ProviderResolver; a null connection is the built-in offline `extractive`.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import { maskSecret } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import { ProviderError, type LlmProvider } from '../../platform/llm/types.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/service.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import * as repo from './repo.js';
import { credentialsBinding, type ConnectionSettings, type ProviderResolver } from './resolver.js';

export type { ProviderCallSettings } from './resolver.js';

export type ProviderKind = repo.ConnectionRow['kind'];

export const DEFAULT_BASE_URLS: Record<ProviderKind, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

export interface ConnectionInput {
  name: string;
  kind: ProviderKind;
  baseUrl?: string | undefined;
  apiKey?: string | null | undefined;
  defaultModel?: string | null | undefined;
  /** Save without trying the connection first (a provider not up yet, a key not valid yet). */
  skipTest?: boolean | undefined;
}

/** What trying a connection before saving it found; null when the try was skipped (or nothing it depends on changed). */
export type SaveTest = { models: string[] | null } | null;

/** Most model ids kept and returned for one connection. */
export const MAX_MODELS = 500;
/** How long a connection's model list is served from memory. */
export const MODELS_TTL_MS = 60_000;
/** Most connections whose model lists are kept. */
const MODELS_CACHE_SIZE = 1_000;

const binding = credentialsBinding;

export class ProviderService {
  private readonly breakers;
  private readonly settings;
  /**
   * Model lists by connection, briefly, so a form opening does not call the provider each
   * time. Keyed by the row's `updated_at` too: a change made through another process
   * misses here as well. Concurrent askers for one connection share one call.
   */
  private readonly models = new Map<string, { version: number; expiresAt: number; models: string[] }>();
  private readonly pendingModels = new Map<string, { version: number; promise: Promise<string[]> }>();

  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly clock: Clock,
    private readonly workspaces: WorkspaceService,
    private readonly resolver: ProviderResolver,
    private readonly audit: AuditLog,
  ) {
    this.breakers = resolver.breakers;
    this.settings = resolver.settings;
  }

  list(context: WorkspaceContext): Promise<repo.ConnectionRow[]> {
    this.workspaces.require(context, 'providers.read');
    return repo.listConnections(this.db, context.workspaceId);
  }

  async get(context: WorkspaceContext, id: string): Promise<repo.ConnectionRow> {
    this.workspaces.require(context, 'providers.read');
    return this.getForRun(context.workspaceId, id);
  }

  /** A connection of the workspace for an agent to use (checking a reference, running it); no permission of its own. */
  async getForRun(workspaceId: string, id: string): Promise<repo.ConnectionRow> {
    const row = await repo.findConnection(this.db, workspaceId, id);
    if (!row) throw new AppError('not_found', 'No such provider connection.');
    return row;
  }

  /** Adds a connection; unless `skipTest`, tries it first (its model list) and saves nothing when that fails. */
  async create(context: WorkspaceContext, input: ConnectionInput, actor: Actor): Promise<{ connection: repo.ConnectionRow; test: SaveTest }> {
    this.workspaces.require(context, 'providers.write');
    const baseUrl = normalizeBaseUrl(input.baseUrl ?? DEFAULT_BASE_URLS[input.kind]);
    const test = input.skipTest ? null : await this.tryBeforeSave({ kind: input.kind, baseUrl, apiKey: input.apiKey ?? undefined });
    const now = this.clock.now();
    const id = randomUUID();
    const row: repo.ConnectionRow = {
      id,
      workspace_id: context.workspaceId,
      name: input.name,
      kind: input.kind,
      base_url: baseUrl,
      default_model: input.defaultModel ?? null,
      credentials: input.apiKey ? await this.seal(context.workspaceId, id, input.apiKey) : null,
      credential_hint: input.apiKey ? maskSecret(input.apiKey) : null,
      created_at: now,
      updated_at: now,
    };
    await this.audit.transaction(async (trx) => {
      await repo.insertConnection(trx, row);
      await this.audit.append(trx, actor, {
        action: 'provider.connection.created',
        workspaceId: row.workspace_id,
        target: { type: 'provider_connection', id },
        details: { kind: row.kind, withKey: row.credential_hint !== null, tested: test !== null },
      });
    });
    if (test?.models) this.remember(row, test.models);
    return { connection: row, test };
  }

  /**
   * Changes a connection. A new base URL or key is tried first (unless `skipTest`) and
   * nothing is saved when the try fails; a new name or default model is saved as is.
   */
  async update(context: WorkspaceContext, id: string, changes: Partial<ConnectionInput>): Promise<{ connection: repo.ConnectionRow; test: SaveTest }> {
    this.workspaces.require(context, 'providers.write');
    const current = await this.get(context, id);
    const baseUrl = changes.baseUrl !== undefined ? normalizeBaseUrl(changes.baseUrl) : undefined;
    const reaches = baseUrl !== undefined || changes.apiKey !== undefined;
    const test =
      reaches && !changes.skipTest
        ? await this.tryBeforeSave({ kind: current.kind, baseUrl: baseUrl ?? current.base_url, apiKey: changes.apiKey !== undefined ? (changes.apiKey ?? undefined) : await this.resolver.apiKeyOf(current) })
        : null;
    await repo.updateConnection(this.db, context.workspaceId, id, {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(baseUrl !== undefined ? { base_url: baseUrl } : {}),
      ...(changes.defaultModel !== undefined ? { default_model: changes.defaultModel } : {}),
      ...(changes.apiKey !== undefined
        ? changes.apiKey === null
          ? { credentials: null, credential_hint: null }
          : { credentials: await this.seal(context.workspaceId, id, changes.apiKey), credential_hint: maskSecret(changes.apiKey) }
        : {}),
      updated_at: this.clock.now(),
    });
    this.breakers.delete(id); // new settings deserve a fresh chance
    this.forget(id);
    await this.resolver.forget(context.workspaceId, id);
    const connection = await this.get(context, id);
    if (test?.models) this.remember(connection, test.models);
    return { connection, test };
  }

  async delete(context: WorkspaceContext, id: string, actor: Actor): Promise<void> {
    this.workspaces.require(context, 'providers.write');
    await this.get(context, id);
    const users = await repo.countAgentsUsing(this.db, context.workspaceId, id);
    if (users > 0) throw new AppError('conflict', `${users} agent(s) use this connection; point them at another one first.`);
    await this.audit.transaction(async (trx) => {
      await repo.deleteConnection(trx, context.workspaceId, id);
      await this.audit.append(trx, actor, { action: 'provider.connection.deleted', workspaceId: context.workspaceId, target: { type: 'provider_connection', id } });
    });
    this.breakers.delete(id);
    this.forget(id);
    await this.resolver.forget(context.workspaceId, id);
  }

  /**
   * The model ids the connection's provider offers, for picking an agent's model: anyone
   * who may read the connection (members building agents included). Served from memory
   * for MODELS_TTL_MS unless `refresh`; a provider failure is an AppError with its code.
   */
  async listModels(context: WorkspaceContext, id: string, options: { refresh?: boolean } = {}): Promise<{ models: string[]; cached: boolean }> {
    this.workspaces.require(context, 'providers.read');
    const row = await this.getForRun(context.workspaceId, id);
    const version = row.updated_at.getTime();
    const hit = this.models.get(id);
    if (!options.refresh && hit && hit.version === version && hit.expiresAt > this.clock.now().getTime()) return { models: hit.models, cached: true };
    const pending = this.pendingModels.get(id);
    if (pending && pending.version === version) return { models: await pending.promise, cached: false };
    const promise = this.fetchModels(context.workspaceId, id);
    this.pendingModels.set(id, { version, promise });
    try {
      const models = await promise;
      this.remember(row, models);
      return { models, cached: false };
    } finally {
      if (this.pendingModels.get(id)?.promise === promise) this.pendingModels.delete(id);
    }
  }

  private async fetchModels(workspaceId: string, id: string): Promise<string[]> {
    const provider = await this.providerFor(workspaceId, id);
    try {
      const result = await provider.test(AbortSignal.timeout(this.settings.timeoutMs));
      return cleanModels(result.models ?? []);
    } catch (error) {
      if (error instanceof ProviderError) throw new AppError(error.code, `The provider did not list its models: ${error.message}`);
      throw error;
    }
  }

  /** Tries settings about to be saved with the provider's cheapest call; a failure says what failed and stops the save. */
  private async tryBeforeSave(settings: ConnectionSettings): Promise<NonNullable<SaveTest>> {
    try {
      const result = await this.resolver.providerForSettings(settings).test(AbortSignal.timeout(this.settings.timeoutMs));
      return { models: result.models ? cleanModels(result.models) : null };
    } catch (error) {
      if (error instanceof ProviderError) throw new AppError(error.code, `Not saved: the connection test failed. ${error.message}`, [{ path: error.code === 'provider_auth_failed' ? 'apiKey' : 'baseUrl', message: error.code }]);
      throw error;
    }
  }

  private remember(row: repo.ConnectionRow, models: string[]): void {
    this.models.delete(row.id);
    if (this.models.size >= MODELS_CACHE_SIZE) this.models.delete(this.models.keys().next().value!);
    this.models.set(row.id, { version: row.updated_at.getTime(), expiresAt: this.clock.now().getTime() + MODELS_TTL_MS, models });
  }

  private forget(id: string): void {
    this.models.delete(id);
    this.pendingModels.delete(id);
  }

  /** Calls the provider's cheapest endpoint; answers what went wrong in words a person can act on. */
  async test(context: WorkspaceContext, id: string): Promise<{ ok: boolean; models?: string[]; error?: { code: string; message: string } }> {
    this.workspaces.require(context, 'providers.write');
    const provider = await this.providerFor(context.workspaceId, id);
    try {
      const result = await provider.test(AbortSignal.timeout(this.settings.timeoutMs));
      return { ok: true, ...(result.models ? { models: result.models.slice(0, 200) } : {}) };
    } catch (error) {
      if (error instanceof ProviderError) return { ok: false, error: { code: error.code, message: error.message } };
      throw error;
    }
  }

  /** The provider for a call; `null` is the built-in extractive provider. */
  providerFor(workspaceId: string, connectionId: string | null): Promise<LlmProvider> {
    return this.resolver.providerFor(workspaceId, connectionId);
  }

  private seal(workspaceId: string, id: string, apiKey: string): Promise<Buffer> {
    return this.encryptor.encrypt({ scope: 'workspace', id: workspaceId }, binding(id), apiKey);
  }
}

/** Model ids as a picker wants them: strings, unique, sorted, bounded. */
function cleanModels(models: string[]): string[] {
  return [...new Set(models.filter((m) => typeof m === 'string' && m.length > 0 && m.length <= 200))].sort((a, b) => a.localeCompare(b)).slice(0, MAX_MODELS);
}

/** http(s) only, no credentials in the URL (they belong in the encrypted key), no trailing slash. */
export function normalizeBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AppError('validation_failed', 'baseUrl must be an absolute http(s) URL.', [{ path: 'baseUrl', message: 'not a URL' }]);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password || url.hash) {
    throw new AppError('validation_failed', 'baseUrl must be an http(s) URL without credentials or fragment; put the key in apiKey.', [{ path: 'baseUrl', message: 'not allowed' }]);
  }
  return url.toString().replace(/\/+$/, '');
}
