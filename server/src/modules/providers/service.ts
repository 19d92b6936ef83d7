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
import { credentialsBinding, type ProviderResolver } from './resolver.js';

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
}

const binding = credentialsBinding;

export class ProviderService {
  private readonly breakers;
  private readonly settings;

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

  async create(context: WorkspaceContext, input: ConnectionInput, actor: Actor): Promise<repo.ConnectionRow> {
    this.workspaces.require(context, 'providers.write');
    const now = this.clock.now();
    const id = randomUUID();
    const row: repo.ConnectionRow = {
      id,
      workspace_id: context.workspaceId,
      name: input.name,
      kind: input.kind,
      base_url: normalizeBaseUrl(input.baseUrl ?? DEFAULT_BASE_URLS[input.kind]),
      default_model: input.defaultModel ?? null,
      credentials: input.apiKey ? await this.seal(context.workspaceId, id, input.apiKey) : null,
      credential_hint: input.apiKey ? maskSecret(input.apiKey) : null,
      created_at: now,
      updated_at: now,
    };
    await this.audit.transaction(async (trx) => {
      await repo.insertConnection(trx, row);
      await this.audit.append(trx, actor, { action: 'provider.connection.created', workspaceId: row.workspace_id, target: { type: 'provider_connection', id }, details: { kind: row.kind, withKey: row.credential_hint !== null } });
    });
    return row;
  }

  async update(context: WorkspaceContext, id: string, changes: Partial<ConnectionInput>): Promise<repo.ConnectionRow> {
    this.workspaces.require(context, 'providers.write');
    await this.get(context, id);
    await repo.updateConnection(this.db, context.workspaceId, id, {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.baseUrl !== undefined ? { base_url: normalizeBaseUrl(changes.baseUrl) } : {}),
      ...(changes.defaultModel !== undefined ? { default_model: changes.defaultModel } : {}),
      ...(changes.apiKey !== undefined
        ? changes.apiKey === null
          ? { credentials: null, credential_hint: null }
          : { credentials: await this.seal(context.workspaceId, id, changes.apiKey), credential_hint: maskSecret(changes.apiKey) }
        : {}),
      updated_at: this.clock.now(),
    });
    this.breakers.delete(id); // new settings deserve a fresh chance
    return this.get(context, id);
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
