/**
 * Agents: CRUD where every change is a new immutable version. The configuration a
 * chat turn runs with is cached on the store (shared by every API copy) and dropped
 * on change, so an edit takes effect everywhere on the next turn.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { JsonCache } from '../../platform/store/cache.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/service.js';
import type { ProviderService } from '../providers/service.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import { AgentConfig, applyPatch, type AgentPatch } from './config.js';
import * as repo from './repo.js';

export interface Agent {
  id: string;
  workspaceId: string;
  version: number;
  config: AgentConfig;
  createdAt: Date;
  updatedAt: Date;
}

const LIST_LIMIT = 500;

/**
 * Parsed configurations by agent id and version. A version is immutable once written, so
 * a parse (defaults filled in for versions stored before a field existed) never goes
 * stale: lists parse each version once per process, not once per row per request.
 */
const parsedConfigs = new Map<string, Readonly<AgentConfig>>();
const PARSED_CONFIGS_KEPT = 10_000;

function configOf(id: string, version: number, stored: unknown): AgentConfig {
  const key = `${id}:${version}`;
  let config = parsedConfigs.get(key);
  if (!config) {
    config = Object.freeze(AgentConfig.parse(stored));
    if (parsedConfigs.size >= PARSED_CONFIGS_KEPT) parsedConfigs.delete(parsedConfigs.keys().next().value!);
    parsedConfigs.set(key, config);
  }
  return config;
}

function toAgent(row: repo.AgentWithConfig): Agent {
  return { id: row.id, workspaceId: row.workspace_id, version: row.current_version, config: configOf(row.id, row.current_version, row.config), createdAt: row.created_at, updatedAt: row.updated_at };
}

export class AgentService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly workspaces: WorkspaceService,
    private readonly providers: ProviderService,
    private readonly cache: JsonCache<{ workspaceId: string; version: number; config: AgentConfig; createdAt: string; updatedAt: string }>,
    /** The ids among `ids` that name knowledge bases of the workspace. */
    private readonly knowledgeBases: (workspaceId: string, ids: string[]) => Promise<string[]>,
    private readonly audit: AuditLog,
  ) {}

  async list(context: WorkspaceContext): Promise<Agent[]> {
    this.workspaces.require(context, 'agents.read');
    return (await repo.listAgents(this.db, context.workspaceId, LIST_LIMIT)).map(toAgent);
  }

  /** The agent's current version; served from the cache when warm. */
  async get(context: WorkspaceContext, id: string): Promise<Agent> {
    this.workspaces.require(context, 'agents.read');
    return this.getForRun(context.workspaceId, id);
  }

  /**
   * Who a webhook call for this agent runs as: its workspace and creator, whatever the
   * workspace (the signature, checked next, is what authenticates the call).
   */
  async webhookOwner(id: string): Promise<{ workspaceId: string; createdBy: string | null } | undefined> {
    const row = await repo.findAgentForWebhook(this.db, id);
    return row ? { workspaceId: row.workspace_id, createdBy: row.created_by } : undefined;
  }

  /**
   * The workspace of an agent named by its id alone (the OpenAI-compatible API, whose model
   * id is the agent id), or undefined. Not an authorisation: the caller checks its
   * membership of that workspace next, and answers a stranger's agent like a missing one.
   */
  async workspaceOf(id: string): Promise<string | undefined> {
    const cached = await this.cache.get(id);
    if (cached) return cached.workspaceId;
    return (await repo.findAgentForWebhook(this.db, id))?.workspace_id;
  }

  /**
   * An agent of the workspace for running it (a chat the caller may use, a webhook): no
   * permission of its own — the caller's permission to run it was checked by the caller.
   */
  async getForRun(workspaceId: string, id: string): Promise<Agent> {
    const cached = await this.cache.getOrLoad(id, async () => {
      const row = await repo.findAgent(this.db, workspaceId, id);
      if (!row) return null;
      const agent = toAgent(row);
      return { workspaceId: agent.workspaceId, version: agent.version, config: agent.config, createdAt: agent.createdAt.toISOString(), updatedAt: agent.updatedAt.toISOString() };
    });
    // The cache is keyed by agent id alone: tenancy is checked on what it holds.
    if (!cached || cached.workspaceId !== workspaceId) throw new AppError('not_found', 'No such agent.');
    return { id, workspaceId: cached.workspaceId, version: cached.version, config: configOf(id, cached.version, cached.config), createdAt: new Date(cached.createdAt), updatedAt: new Date(cached.updatedAt) };
  }

  async create(context: WorkspaceContext, config: AgentConfig, actor: Actor): Promise<Agent> {
    this.workspaces.require(context, 'agents.write');
    await this.checkReferences(context, config);
    const now = this.clock.now();
    const id = randomUUID();
    await this.audit.transaction(async (trx) => {
      await repo.insertAgent(
        trx,
        { id, workspace_id: context.workspaceId, current_version: 1, created_by: context.userId, created_at: now, updated_at: now, deleted_at: null },
        { agent_id: id, version: 1, config, created_by: context.userId, created_at: now },
      );
      await this.audit.append(trx, actor, { action: 'agent.created', workspaceId: context.workspaceId, target: { type: 'agent', id }, details: { version: 1 } });
    });
    return { id, workspaceId: context.workspaceId, version: 1, config, createdAt: now, updatedAt: now };
  }

  async update(context: WorkspaceContext, id: string, patch: AgentPatch, actor: Actor): Promise<Agent> {
    this.workspaces.require(context, 'agents.write');
    const current = await this.get(context, id);
    const config = applyPatch(current.config, patch);
    await this.checkReferences(context, config);
    const now = this.clock.now();
    const version = current.version + 1;
    const added = await this.audit.transaction(async (trx) => {
      if (!(await repo.addVersion(trx, context.workspaceId, id, current.version, { agent_id: id, version, config, created_by: context.userId, created_at: now }))) return false;
      await this.audit.append(trx, actor, { action: 'agent.updated', workspaceId: context.workspaceId, target: { type: 'agent', id }, details: { version, fields: Object.keys(patch).sort() } });
      return true;
    });
    await this.cache.delete(id);
    if (!added) throw new AppError('conflict', 'The agent changed while you were editing it; reload and try again.');
    return { ...current, version, config, updatedAt: now };
  }

  async delete(context: WorkspaceContext, id: string, actor: Actor): Promise<void> {
    this.workspaces.require(context, 'agents.write');
    const deleted = await this.audit.transaction(async (trx) => {
      if (!(await repo.softDeleteAgent(trx, context.workspaceId, id, this.clock.now()))) return false;
      await this.audit.append(trx, actor, { action: 'agent.deleted', workspaceId: context.workspaceId, target: { type: 'agent', id } });
      return true;
    });
    await this.cache.delete(id);
    if (!deleted) throw new AppError('not_found', 'No such agent.');
  }

  async versions(context: WorkspaceContext, id: string): Promise<repo.AgentVersionRow[]> {
    this.workspaces.require(context, 'agents.read');
    const rows = await repo.listVersions(this.db, context.workspaceId, id);
    if (rows.length === 0) throw new AppError('not_found', 'No such agent.');
    return rows;
  }

  private async checkReferences(context: WorkspaceContext, config: AgentConfig): Promise<void> {
    const found = new Set(await this.knowledgeBases(context.workspaceId, config.knowledgeBaseIds));
    const missing = config.knowledgeBaseIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new AppError(
        'validation_failed',
        'knowledgeBaseIds must name knowledge bases of this workspace.',
        missing.map((id) => ({ path: 'knowledgeBaseIds', message: `unknown ${id}` })),
      );
    }
    if (config.providerConnectionId === null) return;
    try {
      await this.providers.getForRun(context.workspaceId, config.providerConnectionId);
    } catch {
      throw new AppError('validation_failed', 'providerConnectionId does not name a connection of this workspace.', [{ path: 'providerConnectionId', message: 'unknown connection' }]);
    }
  }
}
