/**
 * Which model answers a message: the agent's own, or one the member picks when the agent
 * allows it (`allowModelOverride`) — from the agent's `allowedModels`, or, when that is
 * empty, from the connection's model list (ProviderService.listModels: cached, shared calls).
 */
import { AppError } from '../../errors.js';
import type { Agent, AgentService } from '../agents/service.js';
import type { ProviderService } from '../providers/service.js';
import type { WorkspaceContext } from '../workspaces/service.js';

export interface ModelChoices {
  /** The agent's own model, used when the message names none. */
  defaultModel: string;
  /** The agent lets members pick (and it has a provider connection to pick from). */
  allowOverride: boolean;
  /** What a member may pick besides the default; empty when picking is off. */
  models: string[];
  /** The list came from the connection's short-lived cache (or from the agent's own list). */
  cached: boolean;
}

export class ModelChoice {
  constructor(
    private readonly agents: AgentService,
    private readonly providers: ProviderService,
  ) {}

  /** The choices for agent `agentId` of the context's workspace (404 when it is not there). */
  async choices(context: WorkspaceContext, agentId: string, options: { refresh?: boolean } = {}): Promise<ModelChoices> {
    return this.of(context, await this.agents.get(context, agentId), options);
  }

  /**
   * The agent to answer with: its configuration with `model` in place of its own. Naming
   * the agent's own model is always allowed; anything else needs the agent's permission
   * and a model of its list, else 400 model_not_allowed.
   */
  async withModel(context: WorkspaceContext, agent: Agent, model: string | undefined): Promise<Agent> {
    if (model === undefined || model === agent.config.model) return agent;
    const { allowOverride, models } = await this.of(context, agent, {});
    if (!allowOverride) throw new AppError('model_not_allowed', 'This agent does not let members pick the model (its setting allowModelOverride is off): send the message without a model.');
    if (!models.includes(model))
      throw new AppError('model_not_allowed', `This agent does not offer that model: pick one listed by GET /api/v1/agents/${agent.id}/models (the agent's allowedModels, or its connection's models when that list is empty).`);
    return { ...agent, config: { ...agent.config, model } };
  }

  private async of(context: WorkspaceContext, agent: Agent, options: { refresh?: boolean }): Promise<ModelChoices> {
    const { config } = agent;
    const defaultModel = config.model;
    // `?? []` / `=== true`: configurations cached before these fields existed lack them.
    if (config.allowModelOverride !== true || config.providerConnectionId === null) return { defaultModel, allowOverride: false, models: [], cached: true };
    const allowed = config.allowedModels ?? [];
    if (allowed.length > 0) return { defaultModel, allowOverride: true, models: [...allowed], cached: true };
    const listed = await this.providers.listModels(context, config.providerConnectionId, options);
    return { defaultModel, allowOverride: true, models: listed.models, cached: listed.cached };
  }
}
